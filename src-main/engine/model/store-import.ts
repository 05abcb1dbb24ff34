// Importing a local .onnx file into the model store: inspect it (import-checks.ts decides what the
// store accepts), choose its store name, then copy it in so that a reader of the store never sees a
// half-copied model or a model without its labels and sidecar.
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { pathExists, replaceFile, tempPathFor } from '../core/files.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Catalog, type CatalogEntry, type Preprocessing, findCatalogEntry } from './catalog.js';
import { sha256File } from './download.js';
import { importLabels, importPreprocessing, refuseExternalData } from './import-checks.js';
import { type ModelInfo, inspectModelFile } from './inspect.js';
import { normaliseModelName } from './model-name.js';
import { type Sidecar, type StoreLayout, type StoredModel } from './store-layout.js';

export interface ImportOptions {
  /** Store name; default: the file's name, or the catalog name when the file is a catalog model. */
  name?: string;
  /** Class names (one per line or a JSON array), copied into the store. */
  labelsFile?: string;
  /** Overrides of the default (torchvision) preprocessing. */
  preprocessing?: Partial<Preprocessing>;
}

export interface ImportResult extends StoredModel {
  classes: number;
}

/** A store name derived from a file name: "ResNet 50 (ft).onnx" → "resnet-50-ft". */
export function nameFromFile(file: string): string {
  const base = path.basename(file).replace(/\.onnx$/i, '');
  const cleaned = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[-.]+$/, '')
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'model';
}

/** Everything decided about a file before it is copied in. */
interface ImportPlan {
  source: string;
  info: ModelInfo;
  entry: CatalogEntry | undefined;
  name: string;
  destination: string;
  labels: string[] | undefined;
  preprocessing: Preprocessing;
}

/**
 * Copies a local .onnx file into the store after inspecting it. A file that is a catalog model
 * (same SHA-256) is installed as that catalog model; importing under a catalog name requires it.
 */
export async function importModel(layout: StoreLayout, catalog: Catalog, file: string, options: ImportOptions): Promise<ImportResult> {
  const source = path.resolve(file);
  if (options.name !== undefined && !findCatalogEntry(catalog, options.name)) normaliseModelName(options.name);
  const info = await inspectModelFile(source);
  refuseExternalData(info, source);
  const { entry, name } = importName(catalog, info, source, options.name);
  const destination = layout.modelPath(name);
  if (!entry && (await pathExists(destination))) {
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `a model named "${name}" is already in the store; remove it first or choose another name`, {
      item: name,
      hint: { actions: ['remove'], model: name },
    });
  }
  const labels = await importLabels(info, source, options.labelsFile);
  const preprocessing = importPreprocessing(catalog, entry, info, options.preprocessing);
  return installImport(layout, { source, info, entry, name, destination, labels, preprocessing });
}

/** The store name and catalog entry of a file being imported: asked for (a catalog name needs the catalog's file), or found by its SHA-256, or its file name. */
function importName(catalog: Catalog, info: ModelInfo, source: string, asked: string | undefined): { entry: CatalogEntry | undefined; name: string } {
  if (asked === undefined) {
    const entry = catalog.models.find((candidate) => candidate.sha256 === info.sha256);
    return { entry, name: entry?.name ?? nameFromFile(source) };
  }
  const entry = findCatalogEntry(catalog, asked);
  if (entry && info.sha256 !== entry.sha256) {
    throw new EngineError(
      ErrorCode.CHECKSUM_MISMATCH,
      `${path.basename(source)} is not the catalog's ${entry.name}: expected sha256 ${entry.sha256} (${entry.bytes} bytes), got ${info.sha256} (${info.bytes} bytes). Import it under another --name`,
      { item: source },
    );
  }
  return { entry, name: entry?.name ?? normaliseModelName(asked) };
}

/** Copies the file in through a temporary name (checking it did not change since inspected), then writes its labels and sidecar. */
async function installImport(layout: StoreLayout, plan: ImportPlan): Promise<ImportResult> {
  const { source, info, entry, name, destination } = plan;
  await mkdir(layout.partialDir, { recursive: true });
  const temp = tempPathFor(path.join(layout.partialDir, `${name}.onnx.import`));
  try {
    await copyFile(source, temp);
    const copied = await sha256File(temp);
    if (copied.sha256 !== info.sha256) {
      throw new EngineError(
        ErrorCode.CHECKSUM_MISMATCH,
        `${source} changed while it was being imported (sha256 ${info.sha256} when inspected, ${copied.sha256} when copied); try again`,
        { item: source },
      );
    }
    const labelsFile = await replaceLabels(layout, name, plan.labels);
    await rename(temp, destination);
    const sidecar: Sidecar = {
      name,
      source: entry ? 'catalog' : 'imported',
      sha256: copied.sha256,
      bytes: copied.bytes,
      importedFrom: source,
      url: entry?.url ?? null,
      labelsFile,
      preprocessing: plan.preprocessing,
      classes: info.classes,
      addedAt: new Date().toISOString(),
    };
    await layout.writeSidecar(sidecar);
    return { name, source: sidecar.source, path: destination, sidecar, classes: info.classes, ...(entry ? { catalogEntry: entry } : {}) };
  } finally {
    await rm(temp, { force: true });
  }
}

/** Writes the model's copied labels, or removes an earlier import's; resolves to the file, or null for ImageNet-1k. */
async function replaceLabels(layout: StoreLayout, name: string, labels: string[] | undefined): Promise<string | null> {
  if (!labels) {
    await rm(layout.labelsPath(name), { force: true });
    return null;
  }
  const labelsFile = layout.labelsPath(name);
  await replaceFile(labelsFile, `${labels.join('\n')}\n`);
  return labelsFile;
}
