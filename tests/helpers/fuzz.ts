// A small, bounded fuzzer for the test suite: seeded mutations of valid inputs plus random ones,
// run against one target until a time budget or a case count runs out. A failing case is saved under
// test-results/fuzz/ (its bytes and the seed), and the failure says how to replay it:
//   RESLENS_FUZZ_SEED=<seed> npx vitest run tests/unit/fuzz.test.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../fixtures/resnet-graph.js';
import { REPO_ROOT } from './testdata.js';

export type Rng = () => number;

export const FUZZ_OUT = path.join(REPO_ROOT, 'test-results', 'fuzz');

/** The run's seed: RESLENS_FUZZ_SEED to replay, else a new one each run (printed on failure). */
export function fuzzSeed(): number {
  const fromEnv = Number(process.env.RESLENS_FUZZ_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)];

/** Byte-level mutations of a valid input: flips, interesting values, inserts, deletes, truncation, splices. */
export function mutateBytes(input: Uint8Array, rng: Rng, maxOps = 8): Uint8Array {
  let bytes = Buffer.from(input);
  const ops = 1 + int(rng, maxOps);
  const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xc1, 0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc5, 0xc6, 0xd4, 0xd8, 0xc7, 0xc8, 0xc9];
  for (let op = 0; op < ops && bytes.length > 0; op++) {
    const at = int(rng, bytes.length);
    switch (int(rng, 7)) {
      case 0:
        bytes[at] ^= 1 << int(rng, 8);
        break;
      case 1:
        bytes[at] = pick(rng, interesting);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(rng, 8) }, () => int(rng, 256))), bytes.subarray(at)]);
        break;
      case 3:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + int(rng, 16)))]);
        break;
      case 4:
        bytes = bytes.subarray(0, at);
        break;
      case 5: {
        // Repeat a slice (length fields that now lie).
        const from = int(rng, bytes.length);
        const slice = bytes.subarray(from, Math.min(bytes.length, from + 1 + int(rng, 32)));
        bytes = Buffer.concat([bytes.subarray(0, at), slice, bytes.subarray(at)]);
        break;
      }
      default:
        // 32-bit big/little-endian extreme at a random place (sizes, lengths, offsets).
        if (at + 4 <= bytes.length) bytes.writeUInt32BE(pick(rng, [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 65535, 65536]), at);
    }
  }
  return new Uint8Array(bytes);
}

/** A random plain value (the shapes MessagePack and structured clone carry), nested up to `depth`. */
export function randomValue(rng: Rng, depth = 3): unknown {
  const kind = int(rng, depth > 0 ? 12 : 9);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng() < 0.5;
    case 2:
      return pick(rng, [0, -1, 1, 2 ** 31, -(2 ** 53), Number.MAX_SAFE_INTEGER + 2, 1e308, Number.NaN, Number.POSITIVE_INFINITY, 0.5]);
    case 3:
      return int(rng, 100_000);
    case 4:
      return pick(rng, [
        '',
        'img_aaaaaaaaaaaa',
        'dir_bbbbbbbbbbbb',
        'batch_cccccccccccc',
        '../../etc/passwd',
        '/etc/shadow',
        'package.json',
        'resnet50',
        '\u0000',
        'x'.repeat(300),
        'layer2',
        'cpu',
        '__proto__',
      ]);
    case 5:
      return String.fromCharCode(...Array.from({ length: int(rng, 40) }, () => int(rng, 0x3000)));
    case 6:
      return new Uint8Array(int(rng, 64));
    case 7:
      return new Float32Array(int(rng, 16));
    case 8:
      return undefined;
    case 9:
    case 10:
      return Array.from({ length: int(rng, 5) }, () => randomValue(rng, depth - 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = int(rng, 5); i > 0; i--)
        out[
          pick(rng, [
            'images',
            'image',
            'folder',
            'batch',
            'name',
            'ep',
            'top',
            'size',
            'stage',
            'channel',
            'action',
            'offset',
            'limit',
            'format',
            'destination',
            'mode',
            'dryRun',
            'minProb',
            'pad',
            'constructor',
          ])
        ] = randomValue(rng, depth - 1);
      return out;
    }
  }
}

export interface FuzzOptions {
  name: string;
  seed: number;
  /** Stop after this long (the suite's time bound) … */
  budgetMs: number;
  /** … or after this many cases. */
  maxCases: number;
}

/**
 * Runs `one(rng, i)` for each case with its own generator (seed + case number), until the budget or
 * the case count runs out. `one` returns the case's input bytes (saved if a later check throws).
 * Returns how many cases ran.
 */
export async function fuzz(options: FuzzOptions, one: (rng: Rng, index: number, keep: (input: Uint8Array | string) => void) => Promise<void>): Promise<number> {
  const start = performance.now();
  let index = 0;
  for (; index < options.maxCases && performance.now() - start < options.budgetMs; index++) {
    const rng = mulberry32(options.seed + index * 7919);
    let input: Uint8Array | string = '';
    try {
      await one(rng, index, (kept) => (input = kept));
    } catch (error) {
      mkdirSync(FUZZ_OUT, { recursive: true });
      const file = path.join(FUZZ_OUT, `${options.name}-seed${options.seed}-case${index}.bin`);
      writeFileSync(file, input);
      writeFileSync(`${file}.txt`, `seed ${options.seed}, case ${index}\n${(error as Error).stack ?? String(error)}\n`);
      throw new Error(
        `fuzz ${options.name}: case ${index} failed (input saved to ${file}; replay with RESLENS_FUZZ_SEED=${options.seed}): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return index;
}

/** Rejects when `promise` does not settle within `ms` (a hang is a failure, not a slow test). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
