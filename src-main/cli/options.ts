// Option parsers shared by commands; a bad value is a usage error (exit status 2).
import { InvalidArgumentError } from 'commander';
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
