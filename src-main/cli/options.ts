// Option parsers and declarations shared by commands; a bad value is a usage error (exit status 2).
import { type Command, InvalidArgumentError } from 'commander';
import { COLORMAPS, type ColormapName, colormapNamed, type EpRequest, EP_NAMES, isEpRequest } from '../engine/index.js';

export const ExitCode = { Ok: 0, SomeFailed: 1, Usage: 2 } as const;

/** A request that cannot run as asked (exit status 2), e.g. --precision int8 before `reslens quantize`. */
export class UsageError extends Error {}

export const PRECISIONS = ['fp32', 'int8'] as const;
export type PrecisionFlag = (typeof PRECISIONS)[number];

export function parsePrecision(value: string): PrecisionFlag {
  if (!(PRECISIONS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${PRECISIONS.join(', ')}`);
  return value as PrecisionFlag;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

export function parseEp(value: string): EpRequest {
  if (!isEpRequest(value)) throw new InvalidArgumentError(`expected one of ${EP_NAMES.join(', ')}`);
  return value;
}

/** --batch: a positive whole number, or "auto" (the provider's default: large on a GPU, small on the CPU). */
export function parseBatchSize(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number or "auto"');
  return n;
}

export function parseColormap(value: string): ColormapName {
  // `greys`, the CLI's name before the app's `gray` became the one name, still works.
  const name = colormapNamed(value);
  if (!name) throw new InvalidArgumentError(`expected one of ${COLORMAPS.join(', ')}`);
  return name;
}

// ---- option declarations shared by the commands that run a model: one wording, one parser, one default ----

/** The flags of addModelOptions, as commander hands them to an action. */
export interface ModelFlags {
  model: string;
  ep: EpRequest;
  labels?: string;
}

/** The --ep choices as help texts list them. */
export const EP_CHOICES = EP_NAMES.join('|');

/** -m/--model, --ep and --labels: which model runs, where, and with which class names (the provider list from the vocabulary). */
export function addModelOptions(command: Command): Command {
  return command
    .option('-m, --model <name|path>', 'catalog model name or path to an .onnx file', 'resnet50')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES}`, parseEp, 'auto')
    .option('--labels <file>', 'class names for a custom model, one per line');
}

const INT8_HELP = 'the quantised copy made by `reslens quantize` (faster on the CPU, results marked "precision":"int8")';

/** --precision fp32|int8; `int8` says what int8 means for the command (default: the stored quantised copy). */
export function addPrecisionOption(command: Command, int8 = INT8_HELP): Command {
  return command.option('--precision <fp32|int8>', `int8: ${int8}`, parsePrecision, 'fp32' as PrecisionFlag);
}

/** -b/--batch n|auto: images per inference run. */
export function addBatchSizeOption(command: Command): Command {
  return command.option(
    '-b, --batch <n|auto>',
    "images per inference run; auto: the provider's default (8 on the CPU, more on a GPU)",
    parseBatchSize,
    'auto' as const,
  );
}
