// Graph surgery: makes internal tensors (the stage outputs) extra graph outputs, so one
// session.run returns logits and every stage map together. The original outputs and every node
// stay as they are; only the output list grows.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../core/files.js';
import { type OnnxModel, TensorDataType } from './onnx-proto.js';

export interface ExposedTensor {
  name: string;
  /** [C, H, W]; the batch axis is declared dynamic. */
  shape: [number, number, number];
}

/** `model` with `tensors` appended to its outputs (skipping ones already there); not encoded. */
export function withExposedTensors(model: OnnxModel, tensors: readonly ExposedTensor[], batchAxis: string | number = 'N'): OnnxModel {
  const existing = new Set(model.graph.output.map((o) => o.name));
  const added = tensors.filter((t) => !existing.has(t.name));
  const edited: OnnxModel = {
    ...model,
    graph: {
      ...model.graph,
      output: [
        ...model.graph.output,
        ...added.map((t) => ({
          name: t.name,
          type: {
            tensorType: {
              elemType: TensorDataType.FLOAT,
              shape: { dim: [typeof batchAxis === 'number' ? { dimValue: batchAxis } : { dimParam: batchAxis }, ...t.shape.map((d) => ({ dimValue: d }))] },
            },
          },
        })),
      ],
    },
  };
  return edited;
}

/**
 * The exposed model as a file in `cacheDir`, keyed by the source model's SHA-256, the exposed
 * tensor names and `variant` (what else the edit adds, versioned): editing a 240 MB model costs
 * about a second, so it is done once per model.
 */
export async function exposedModelFile(
  cacheDir: string,
  sourceSha256: string,
  tensors: readonly ExposedTensor[],
  build: () => Uint8Array,
  variant = '',
): Promise<{ file: string; sha256: string; cached: boolean }> {
  const key = createHash('sha256').update(sourceSha256).update(JSON.stringify(tensors)).update(variant).digest('hex').slice(0, 40);
  const file = path.join(cacheDir, `${key}.onnx`);
  try {
    await readFile(`${file}.ok`);
    return { file, sha256: key, cached: true };
  } catch {
    // not cached yet
  }
  await mkdir(cacheDir, { recursive: true });
  await replaceFile(file, build());
  await writeFile(`${file}.ok`, ''); // marker written last: a half-written model is never trusted
  return { file, sha256: key, cached: false };
}

/** Forgets a cached exposed model (marker first: a half-removed entry is never trusted). */
export async function discardExposedModel(file: string): Promise<void> {
  await rm(`${file}.ok`, { force: true });
  await rm(file, { force: true });
}
