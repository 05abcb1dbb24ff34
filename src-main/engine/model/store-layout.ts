// Where the model store keeps each file, and the sidecar that says where a model came from. Layout:
//   <dir>/<name>.onnx          the model
//   <dir>/<name>.json          sidecar (source, sha256, bytes, importedFrom, labelsFile, preprocessing, addedAt)
//   <dir>/<name>.labels.txt    copied custom labels, when the import named some
//   <dir>/.partial/            downloads and imports in progress (<name>.onnx.part, <name>.lock)
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { replaceFile } from '../core/files.js';
import { type CatalogEntry, PreprocessingSchema } from './catalog.js';

export type ModelSource = 'catalog' | 'imported';

export const SidecarSchema = z.object({
  name: z.string(),
  source: z.enum(['catalog', 'imported']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** The file an import was copied from (absolute path), or null for a download. */
  importedFrom: z.string().nullable(),
  /** Download URL for catalog models. */
  url: z.string().nullable().default(null),
  /** Custom labels copied into the store (absolute path), or null for ImageNet-1k. */
  labelsFile: z.string().nullable(),
  preprocessing: PreprocessingSchema,
  /** Output classes, when known (imports are inspected). */
  classes: z.number().int().positive().nullable().default(null),
  addedAt: z.string(),
});
export type Sidecar = z.infer<typeof SidecarSchema>;

export interface StoredModel {
  name: string;
  source: ModelSource;
  path: string;
  /** Null when the sidecar is missing or unreadable. */
  sidecar: Sidecar | null;
  catalogEntry?: CatalogEntry;
}

/** The paths of one store folder; names given here are already canonical store names. */
export class StoreLayout {
  constructor(readonly dir: string) {}

  get partialDir(): string {
    return path.join(this.dir, '.partial');
  }

  modelPath(name: string): string {
    return path.join(this.dir, `${name}.onnx`);
  }

  sidecarPath(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  labelsPath(name: string): string {
    return path.join(this.dir, `${name}.labels.txt`);
  }

  partialPath(name: string): string {
    return path.join(this.partialDir, `${name}.onnx.part`);
  }

  lockPath(name: string): string {
    return path.join(this.partialDir, `${name}.lock`);
  }

  /** The sidecar of `name`, or null when it is missing or does not match the schema. */
  async readSidecar(name: string): Promise<Sidecar | null> {
    try {
      const parsed = SidecarSchema.safeParse(JSON.parse(await readFile(this.sidecarPath(name), 'utf8')));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  async writeSidecar(sidecar: Sidecar): Promise<void> {
    await replaceFile(this.sidecarPath(sidecar.name), `${JSON.stringify(sidecar, null, 2)}\n`);
  }
}
