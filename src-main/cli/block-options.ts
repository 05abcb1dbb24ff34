// Options shared by the commands that act on residual blocks (blocks, classify, lesion): block id
// lists and scales, and turning a bad id (known only once the model is loaded) into a usage error.
import { InvalidArgumentError } from 'commander';
import { type BlockGates, EngineError, ErrorCode } from '../engine/index.js';
import { ExitCode } from './options.js';
import { withHint } from './hints.js';

/** A block id as typed: `layer3.1`; whether the model has it is checked once it is loaded. */
const BLOCK_ID = /^[A-Za-z][A-Za-z0-9_]*\.\d+$/;

/** `layer3.1,layer4.0` (repeatable: lists accumulate). */
export function parseBlockList(value: string, previous: string[] = []): string[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new InvalidArgumentError('expected block ids such as layer3.1,layer4.0');
  const bad = ids.find((id) => !BLOCK_ID.test(id));
  if (bad) throw new InvalidArgumentError(`"${bad}" is not a block id (stage.index, such as layer3.1)`);
  return [...previous, ...ids];
}

/** `layer2.0=0.5,layer3.1=1.5` (repeatable). */
export function parseScaleList(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const out = { ...previous };
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([^=]+)=(.+)$/.exec(part);
    const scale = match ? Number(match[2]) : NaN;
    if (!match || !BLOCK_ID.test(match[1].trim()) || match[2].trim() === '' || !Number.isFinite(scale))
      throw new InvalidArgumentError(`"${part}" is not id=scale (such as layer2.0=0.5)`);
    out[match[1].trim()] = scale;
  }
  return out;
}

/** --drop-blocks and --scale-blocks as gates; naming a block in both is a usage error. */
export function gatesFrom(drop: readonly string[] = [], scale: Record<string, number> = {}): BlockGates {
  const both = drop.filter((id) => id in scale);
  if (both.length > 0) throw new InvalidArgumentError(`${both.join(', ')} given to both --drop-blocks and --scale-blocks`);
  return { ...scale, ...Object.fromEntries(drop.map((id) => [id, 0])) };
}

/**
 * A bad block id or scale (INVALID_ARGUMENT, with the valid ids in its message) and a model without
 * residual blocks (UNSUPPORTED_MODEL) are usage errors: exit 2. Returns false for any other error.
 */
export function reportBlockUsageError(error: unknown): boolean {
  if (!(error instanceof EngineError)) return false;
  if (error.code !== ErrorCode.INVALID_ARGUMENT && !(error.code === ErrorCode.UNSUPPORTED_MODEL && /residual blocks unavailable/.test(error.message)))
    return false;
  const none = error.code === ErrorCode.UNSUPPORTED_MODEL ? ' (valid block ids: none)' : '';
  process.stderr.write(`error ${error.code}: ${withHint(error.message, error.hint)}${none}\n`);
  process.exitCode = ExitCode.Usage;
  return true;
}
