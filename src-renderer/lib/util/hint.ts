// An error's hint (what the user can do, as data from the engine) in the app's words: the app has
// no terminal, so it names its own controls where the CLI names flags (src-main/cli/hints.ts).
import type { ErrorValue } from '../../../src-main/api/contract.js';
import type { ErrorHint, HintAction } from '../../../src-main/api/vocabulary.js';

const WORDS: Record<HintAction, (hint: ErrorHint) => string> = {
  resume: () => 'Resume continues the unfinished run',
  restart: () => 'Start over replaces it',
  import: () => 'Import a model file (.onnx) from the model picker',
  pull: (hint) => `Download ${hint.model ?? 'the model'} from the model picker`,
  remove: (hint) => `Remove ${hint.model ?? 'the model'} from the model list first, or choose another name`,
  quantize: () => 'Make an int8 copy first (it is calibrated on a folder of your photos), or choose fp32',
};

export function hintWords(hint: ErrorHint | undefined): string | undefined {
  if (!hint || hint.actions.length === 0) return undefined;
  return `${hint.actions.map((action) => WORDS[action](hint)).join('; or ')}.`;
}

/** "CODE: message. What to do." for a toast. */
export function errorText(error: ErrorValue): string {
  const words = hintWords(error.hint);
  return words ? `${error.code}: ${error.message}. ${words}` : `${error.code}: ${error.message}`;
}
