// Where quantised copies live: in the model store, under int8/, named by the fp32 model's SHA-256
// so any file with the same weights (a catalog model, an import, a path) finds its copy.
//   <store>/int8/<sha256>.onnx   the QDQ model
//   <store>/int8/<sha256>.json   how it was made and how close it stays to fp32 (Int8Record)
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { pathExists, replaceFile } from '../core/files.js';
import { CALIBRATION_METHODS } from './names.js';

export const FidelitySchema = z.object({
  /** Held-back photos the figures come from (not used for calibration). */
  images: z.number().int().nonnegative(),
  /** Share of held-back photos whose top-1 class is the same as fp32's. */
  top1Agreement: z.number().min(0).max(1),
  /** Mean |top-5 int8 ∩ top-5 fp32| / 5. */
  top5Overlap: z.number().min(0).max(1),
  /** Mean KL(p_fp32 ‖ p_int8) of the softmax probabilities, in nats. */
  meanKl: z.number().nonnegative(),
});
export type Fidelity = z.infer<typeof FidelitySchema>;

export const Int8RecordSchema = z.object({
  format: z.literal(1),
  sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
  sourceName: z.string(),
  /** SHA-256 over the calibration photos' own SHA-256s, sorted: the same set gives the same hash. */
  calibrationSha256: z.string().regex(/^[0-9a-f]{64}$/),
  calibrationImages: z.number().int().positive(),
  method: z.enum(CALIBRATION_METHODS),
  /** Where the calibration photos came from (quantize/calibration-source.ts: "40 photos from /photos", "the first 50 photos of the batch on /photos"); absent in copies made before it was recorded. */
  calibrationSource: z.string().optional(),
  activations: z.enum(['uint8', 'int8']),
  weights: z.literal('int8 per-channel symmetric'),
  fidelity: FidelitySchema,
  bytes: z.number().int().positive(),
  onnxruntime: z.string(),
  createdAt: z.string(),
});
export type Int8Record = z.infer<typeof Int8RecordSchema>;

export function int8Paths(storeDir: string, sourceSha256: string): { model: string; record: string } {
  if (!/^[0-9a-f]{64}$/.test(sourceSha256)) throw new Error(`not a SHA-256: ${sourceSha256}`);
  const base = path.join(storeDir, 'int8', sourceSha256);
  return { model: `${base}.onnx`, record: `${base}.json` };
}

/** The int8 copy of the model with this SHA-256, or undefined when there is none (or it is damaged). */
export async function findInt8Copy(storeDir: string, sourceSha256: string): Promise<{ model: string; record: Int8Record } | undefined> {
  const paths = int8Paths(storeDir, sourceSha256);
  try {
    const record = Int8RecordSchema.parse(JSON.parse(await readFile(paths.record, 'utf8')));
    if (record.sourceSha256 !== sourceSha256 || !(await pathExists(paths.model))) return undefined;
    return { model: paths.model, record };
  } catch {
    return undefined;
  }
}

/** Writes the copy and its record (record last: a copy without one is never used). */
export async function saveInt8Copy(storeDir: string, model: Uint8Array, record: Int8Record): Promise<{ model: string; record: string }> {
  const paths = int8Paths(storeDir, record.sourceSha256);
  await mkdir(path.dirname(paths.model), { recursive: true });
  await rm(paths.record, { force: true });
  await replaceFile(paths.model, model);
  await replaceFile(paths.record, `${JSON.stringify(record, null, 2)}\n`);
  return paths;
}
