// The model store: a folder of verified .onnx files, each with a small JSON sidecar saying where it
// came from. Catalog models are pulled (resumable, SHA-256 checked); any other model is imported from
// a local file after inspection. Layout:
//   <dir>/<name>.onnx          the model
//   <dir>/<name>.json          sidecar (source, sha256, bytes, importedFrom, labelsFile, preprocessing, addedAt)
//   <dir>/<name>.labels.txt    copied custom labels, when the import named some
//   <dir>/.partial/            downloads and imports in progress (<name>.onnx.part, <name>.lock)
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import envPaths from 'env-paths';
import { z } from 'zod';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { fileSize, pathExists } from '../core/files.js';
import {
  type Catalog,
  type CatalogEntry,
  type Preprocessing,
  PreprocessingSchema,
  catalogNames,
  findCatalogEntry,
  loadCatalogSync,
  preprocessingOf,
} from './catalog.js';
import { type FetchLike, type TransferProgress, downloadVerified, sha256File } from './download.js';
import { importLabels, importPreprocessing, refuseExternalData } from './import-checks.js';
import { type ModelInfo, inspectModelFile } from './inspect.js';
import { processAlive } from '../core/temp-dirs.js';

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

export interface ModelListing {
  name: string;
  aliases: string[];
  title: string;
  source: ModelSource;
  installed: boolean;
  /** Where the model is (or would be, once pulled). */
  path: string;
  bytes: number | null;
  sha256: string | null;
  architecture?: string;
  variant?: string;
  addedAt?: string;
  importedFrom?: string | null;
  catalogEntry?: CatalogEntry;
}

export interface VerifyResult {
  name: string;
  path: string;
  ok: boolean;
  expectedSha256: string;
  actualSha256: string;
  expectedBytes: number;
  actualBytes: number;
}

export interface PullOptions {
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
  /** Download again even when the model is installed. */
  force?: boolean;
  /** For tests: another fetch (the catalog can also be injected with local URLs). */
  fetchImpl?: FetchLike;
}

export interface PullResult extends StoredModel {
  /** False when the model was already installed and nothing was downloaded. */
  downloaded: boolean;
  /** Bytes kept from an earlier interrupted download. */
  resumedFrom: number;
}

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

export interface ModelStoreOptions {
  /** The catalog to use instead of models/catalog.json (tests point it at a local server). */
  catalog?: Catalog;
  fetchImpl?: FetchLike;
  /** Download tuning (tests make retries fast). */
  download?: { maxRetries?: number; retryDelayMs?: number; stallTimeoutMs?: number; progressIntervalMs?: number };
}

import { STORE_NAME, normaliseModelName } from './model-name.js';

export { normaliseModelName } from './model-name.js';

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

const tempSuffix = (): string => `${process.pid}-${randomBytes(4).toString('hex')}`;

/** Writes a file next to its final place and renames it there, so readers never see half a file. */
async function writeAtomic(file: string, content: string): Promise<void> {
  const temp = `${file}.tmp-${tempSuffix()}`;
  try {
    await writeFile(temp, content);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export class ModelStore {
  readonly dir: string;
  readonly catalog: Catalog;
  private readonly fetchImpl?: FetchLike;
  private readonly downloadTuning: NonNullable<ModelStoreOptions['download']>;
  private readonly pulls = new Map<string, { promise: Promise<PullResult>; listeners: Set<(p: TransferProgress) => void> }>();

  constructor(dir: string, options: ModelStoreOptions = {}) {
    this.dir = path.resolve(dir);
    this.catalog = options.catalog ?? loadCatalogSync();
    this.fetchImpl = options.fetchImpl;
    this.downloadTuning = options.download ?? {};
  }

  /**
   * The store folder: `options.dir` (the --models-dir flag), else $RESLENS_MODELS_DIR, else the
   * per-user data folder (`~/.local/share/reslens/models` on Linux, `~/Library/Application Support/reslens/models`
   * on macOS, `%LOCALAPPDATA%\reslens\Data\models` on Windows).
   */
  static defaultDir(options: { dir?: string; env?: NodeJS.ProcessEnv } = {}): string {
    if (options.dir !== undefined && options.dir.trim() !== '') return path.resolve(options.dir);
    const fromEnv = (options.env ?? process.env).RESLENS_MODELS_DIR;
    if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(fromEnv);
    return path.join(envPaths('reslens', { suffix: '' }).data, 'models');
  }

  private get partialDir(): string {
    return path.join(this.dir, '.partial');
  }

  /** The catalog entry for a name or alias, if any. */
  catalogEntry(name: string): CatalogEntry | undefined {
    return findCatalogEntry(this.catalog, name);
  }

  /** Canonical store name: the catalog name for a catalog name or alias, else the normalised name. */
  canonicalName(name: string): string {
    return this.catalogEntry(name)?.name ?? normaliseModelName(name);
  }

  /** Where the model file for `name` is, or would be once pulled/imported. */
  pathOf(name: string): string {
    return path.join(this.dir, `${this.canonicalName(name)}.onnx`);
  }

  private sidecarPath(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  private labelsPath(name: string): string {
    return path.join(this.dir, `${name}.labels.txt`);
  }

  private partialPath(name: string): string {
    return path.join(this.partialDir, `${name}.onnx.part`);
  }

  private async readSidecar(name: string): Promise<Sidecar | null> {
    try {
      const parsed = SidecarSchema.safeParse(JSON.parse(await readFile(this.sidecarPath(name), 'utf8')));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  /** MODEL_NOT_FOUND naming every catalog and imported model. */
  async unknownModel(name: string): Promise<EngineError> {
    const imported = (await this.list()).filter((m) => m.source === 'imported').map((m) => m.name);
    return new EngineError(
      ErrorCode.MODEL_NOT_FOUND,
      `unknown model "${name}". Catalog models: ${catalogNames(this.catalog).join(', ')}${imported.length ? `; imported: ${imported.join(', ')}` : ''}. ` +
        'Give a path to an .onnx file instead, or import one',
      { item: name, hint: { actions: ['import'] } },
    );
  }

  /** The installed model called `name` (catalog name, alias or imported name), or null. */
  async get(name: string): Promise<StoredModel | null> {
    const entry = this.catalogEntry(name);
    let canonical: string;
    try {
      canonical = this.canonicalName(name);
    } catch {
      return null;
    }
    const file = path.join(this.dir, `${canonical}.onnx`);
    if ((await fileSize(file)) === null) return null;
    const sidecar = await this.readSidecar(canonical);
    return {
      name: canonical,
      source: entry ? 'catalog' : 'imported',
      path: file,
      sidecar,
      ...(entry ? { catalogEntry: entry } : {}),
    };
  }

  /** Catalog models (installed or not), then imported models. */
  async list(): Promise<ModelListing[]> {
    const listings: ModelListing[] = [];
    for (const entry of this.catalog.models) {
      const file = path.join(this.dir, `${entry.name}.onnx`);
      const installed = (await fileSize(file)) !== null;
      const sidecar = installed ? await this.readSidecar(entry.name) : null;
      listings.push({
        name: entry.name,
        aliases: entry.aliases,
        title: entry.title,
        source: 'catalog',
        installed,
        path: file,
        bytes: entry.bytes,
        sha256: entry.sha256,
        architecture: entry.architecture,
        variant: entry.variant,
        ...(sidecar ? { addedAt: sidecar.addedAt, importedFrom: sidecar.importedFrom } : {}),
        catalogEntry: entry,
      });
    }
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch {
      files = [];
    }
    const imported = files
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => f.slice(0, -'.onnx'.length))
      .filter((name) => STORE_NAME.test(name) && !this.catalogEntry(name))
      .sort();
    for (const name of imported) {
      const file = path.join(this.dir, `${name}.onnx`);
      const sidecar = await this.readSidecar(name);
      listings.push({
        name,
        aliases: [],
        title: sidecar?.importedFrom ? `imported from ${sidecar.importedFrom}` : 'imported model',
        source: 'imported',
        installed: true,
        path: file,
        bytes: sidecar?.bytes ?? (await fileSize(file)),
        sha256: sidecar?.sha256 ?? null,
        ...(sidecar ? { addedAt: sidecar.addedAt, importedFrom: sidecar.importedFrom } : {}),
      });
    }
    return listings;
  }

  /**
   * Downloads a catalog model into the store (resuming an interrupted download), verifying its size
   * and SHA-256. Returns at once when it is already installed (unless `force`).
   */
  async pull(name: string, options: PullOptions = {}): Promise<PullResult> {
    const entry = this.catalogEntry(name);
    if (!entry) {
      let canonical: string | undefined;
      try {
        canonical = normaliseModelName(name);
      } catch {
        canonical = undefined;
      }
      if (canonical !== undefined && (await fileSize(path.join(this.dir, `${canonical}.onnx`))) !== null) {
        throw new EngineError(ErrorCode.INVALID_ARGUMENT, `"${canonical}" is an imported model, not a catalog model: there is nothing to pull`, { item: name });
      }
      throw await this.unknownModel(name);
    }
    const destination = path.join(this.dir, `${entry.name}.onnx`);
    if (!options.force && (await fileSize(destination)) === entry.bytes) {
      return { ...(await this.get(entry.name))!, downloaded: false, resumedFrom: 0 };
    }

    // Two pulls of one model in this process share the download; each caller gets the progress.
    const running = this.pulls.get(entry.name);
    if (running) {
      if (options.onProgress) running.listeners.add(options.onProgress);
      return options.signal ? raceAbort(running.promise, options.signal, entry.name) : running.promise;
    }
    const listeners = new Set<(p: TransferProgress) => void>();
    if (options.onProgress) listeners.add(options.onProgress);
    const promise = this.download(entry, destination, options, listeners).finally(() => this.pulls.delete(entry.name));
    this.pulls.set(entry.name, { promise, listeners });
    return promise;
  }

  private async download(entry: CatalogEntry, destination: string, options: PullOptions, listeners: Set<(p: TransferProgress) => void>): Promise<PullResult> {
    await mkdir(this.partialDir, { recursive: true });
    const release = await this.lock(entry.name);
    try {
      const result = await downloadVerified({
        url: entry.url,
        destination,
        partial: this.partialPath(entry.name),
        expectedBytes: entry.bytes,
        expectedSha256: entry.sha256,
        name: entry.name,
        signal: options.signal,
        onProgress: (p) => {
          for (const listener of listeners) listener(p);
        },
        fetchImpl: options.fetchImpl ?? this.fetchImpl,
        ...this.downloadTuning,
      });
      const sidecar: Sidecar = {
        name: entry.name,
        source: 'catalog',
        sha256: result.sha256,
        bytes: result.bytes,
        importedFrom: null,
        url: entry.url,
        labelsFile: null,
        preprocessing: preprocessingOf(this.catalog, entry),
        classes: entry.classes,
        addedAt: new Date().toISOString(),
      };
      await writeAtomic(this.sidecarPath(entry.name), `${JSON.stringify(sidecar, null, 2)}\n`);
      return { name: entry.name, source: 'catalog', path: destination, sidecar, catalogEntry: entry, downloaded: true, resumedFrom: result.resumedFrom };
    } finally {
      await release();
    }
  }

  /** One writer per model across processes: a lock file holding the owner's pid (stale locks are taken over). */
  private async lock(name: string): Promise<() => Promise<void>> {
    const file = path.join(this.partialDir, `${name}.lock`);
    for (let tries = 0; tries < 3; tries += 1) {
      try {
        const handle = await open(file, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          await rm(file, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
          throw new EngineError(
            ErrorCode.DOWNLOAD_FAILED,
            `another ResLens process (pid ${pid}) is downloading ${name}; wait for it to finish (or delete ${file} if that process is gone)`,
            { item: name },
          );
        }
        await rm(file, { force: true });
      }
    }
    throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `cannot lock ${file} for downloading ${name}`, { item: name });
  }

  /**
   * Copies a local .onnx file into the store after inspecting it. A file that is a catalog model
   * (same SHA-256) is installed as that catalog model; importing under a catalog name requires it.
   */
  async import(file: string, options: ImportOptions = {}): Promise<ImportResult> {
    const source = path.resolve(file);
    if (options.name !== undefined && !this.catalogEntry(options.name)) normaliseModelName(options.name);
    const info = await inspectModelFile(source);
    refuseExternalData(info, source);
    const { entry, name } = this.importName(info, source, options.name);
    const destination = path.join(this.dir, `${name}.onnx`);
    if (!entry && (await pathExists(destination))) {
      throw new EngineError(ErrorCode.INVALID_ARGUMENT, `a model named "${name}" is already in the store; remove it first or choose another name`, {
        item: name,
        hint: { actions: ['remove'], model: name },
      });
    }
    const labels = await importLabels(info, source, options.labelsFile);
    const preprocessing = importPreprocessing(this.catalog, entry, info, options.preprocessing);
    return this.installImport({ source, info, entry, name, destination, labels, preprocessing });
  }

  /** The store name and catalog entry of a file being imported: asked for (a catalog name needs the catalog's file), or found by its SHA-256, or its file name. */
  private importName(info: ModelInfo, source: string, asked: string | undefined): { entry: CatalogEntry | undefined; name: string } {
    if (asked === undefined) {
      const entry = this.catalog.models.find((candidate) => candidate.sha256 === info.sha256);
      return { entry, name: entry?.name ?? nameFromFile(source) };
    }
    const entry = this.catalogEntry(asked);
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
  private async installImport(plan: {
    source: string;
    info: ModelInfo;
    entry: CatalogEntry | undefined;
    name: string;
    destination: string;
    labels: string[] | undefined;
    preprocessing: Preprocessing;
  }): Promise<ImportResult> {
    const { source, info, entry, name, destination, labels, preprocessing } = plan;
    await mkdir(this.partialDir, { recursive: true });
    const temp = path.join(this.partialDir, `${name}.onnx.import-${tempSuffix()}`);
    try {
      await copyFile(source, temp);
      const copied = await sha256File(temp);
      if (copied.sha256 !== info.sha256) {
        throw new EngineError(
          ErrorCode.CHECKSUM_MISMATCH,
          `${source} changed while it was being imported (sha256 ${info.sha256} when inspected, ${copied.sha256} when copied); try again`,
          {
            item: source,
          },
        );
      }
      let labelsFile: string | null = null;
      if (labels) {
        labelsFile = this.labelsPath(name);
        await writeAtomic(labelsFile, `${labels.join('\n')}\n`);
      } else {
        await rm(this.labelsPath(name), { force: true });
      }
      await rename(temp, destination);
      const sidecar: Sidecar = {
        name,
        source: entry ? 'catalog' : 'imported',
        sha256: copied.sha256,
        bytes: copied.bytes,
        importedFrom: source,
        url: entry?.url ?? null,
        labelsFile,
        preprocessing,
        classes: info.classes,
        addedAt: new Date().toISOString(),
      };
      await writeAtomic(this.sidecarPath(name), `${JSON.stringify(sidecar, null, 2)}\n`);
      return { name, source: sidecar.source, path: destination, sidecar, classes: info.classes, ...(entry ? { catalogEntry: entry } : {}) };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Recomputes the installed file's SHA-256 and size and compares them with the catalog (or the sidecar). */
  async verify(name: string, options: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    const stored = await this.get(name);
    if (!stored) throw this.notInstalled(name);
    let expectedSha256: string;
    let expectedBytes: number;
    if (stored.catalogEntry) {
      expectedSha256 = stored.catalogEntry.sha256;
      expectedBytes = stored.catalogEntry.bytes;
    } else if (stored.sidecar) {
      expectedSha256 = stored.sidecar.sha256;
      expectedBytes = stored.sidecar.bytes;
    } else {
      throw new EngineError(
        ErrorCode.INVALID_ARGUMENT,
        `no checksum is recorded for ${stored.name} (its sidecar ${this.sidecarPath(stored.name)} is missing or unreadable); remove it and import it again`,
        { item: stored.name },
      );
    }
    const actual = await sha256File(stored.path, options.signal);
    return {
      name: stored.name,
      path: stored.path,
      ok: actual.sha256 === expectedSha256 && actual.bytes === expectedBytes,
      expectedSha256,
      actualSha256: actual.sha256,
      expectedBytes,
      actualBytes: actual.bytes,
    };
  }

  /** Deletes an installed model with its sidecar, copied labels and any partial download. */
  async remove(name: string): Promise<{ name: string; path: string }> {
    const canonical = this.canonicalName(name);
    const file = path.join(this.dir, `${canonical}.onnx`);
    const partial = this.partialPath(canonical);
    const present = await Promise.all([file, this.sidecarPath(canonical), partial].map(pathExists));
    if (!present.some(Boolean)) throw this.notInstalled(name);
    await rm(file, { force: true });
    await rm(this.sidecarPath(canonical), { force: true });
    await rm(this.labelsPath(canonical), { force: true });
    await rm(partial, { force: true });
    return { name: canonical, path: file };
  }

  private notInstalled(name: string): EngineError {
    if (!this.catalogEntry(name)) {
      try {
        normaliseModelName(name);
      } catch (error) {
        return error as EngineError;
      }
      return new EngineError(ErrorCode.MODEL_NOT_FOUND, `no model named "${name}" in the store (${this.dir})`, { item: name, hint: { actions: ['import'] } });
    }
    return new EngineError(ErrorCode.MODEL_NOT_FOUND, `${this.canonicalName(name)} is not installed`, {
      item: name,
      hint: { actions: ['pull'], model: this.canonicalName(name) },
    });
  }
}

/** Waits for `promise` unless `signal` aborts first (the shared work itself goes on). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, name: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new EngineError(ErrorCode.CANCELLED, `pull of ${name} cancelled`, { item: name }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new EngineError(ErrorCode.CANCELLED, `pull of ${name} cancelled`, { item: name }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
