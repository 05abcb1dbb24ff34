// An engine error's hint (what the user can do, as data) in the command line's words: the flags and
// commands a terminal user types. The app says the same hints as buttons and menus
// (src-renderer/lib/util/hint.ts).
import type { ErrorHint, ErrorInfo, HintAction } from '../engine/index.js';

const WORDS: Record<HintAction, (hint: ErrorHint) => string> = {
  resume: () => 'continue it with --resume',
  restart: () => 'start over with --restart',
  import: (hint) => `import a model file with: reslens models import FILE --name ${hint.model ?? 'NAME'}`,
  pull: (hint) => `download it with: reslens models pull ${hint.model ?? 'NAME'}`,
  remove: (hint) => `remove it first (reslens models rm ${hint.model ?? 'NAME'}) or choose another --name`,
  quantize: (hint) => `make one with \`reslens quantize ${hint.model ?? 'NAME'} --calibrate <folder of photos>\``,
};

/** "continue it with --resume, or start over with --restart"; undefined without a hint. */
export function hintWords(hint: ErrorHint | undefined): string | undefined {
  if (!hint || hint.actions.length === 0) return undefined;
  return hint.actions.map((action) => WORDS[action](hint)).join(', or ');
}

/** An error's message with its hint in the CLI's words, on one line. */
export function withHint(message: string, hint: ErrorHint | undefined): string {
  const words = hintWords(hint);
  return words ? `${message}; ${words}` : message;
}

/** The closing lines of a journaled run's report (batch, lesion study): how to continue a stopped run, and the error that ended one. */
export function endLines(summary: { state: string; error?: ErrorInfo }): string[] {
  const lines: string[] = [];
  if (summary.state === 'cancelled') lines.push('stopped: run the same command with --resume to continue');
  if (summary.error) lines.push(`error ${summary.error.code}: ${withHint(summary.error.message, summary.error.hint)}`);
  return lines;
}
