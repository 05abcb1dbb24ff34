// The model store: a folder of verified .onnx files, each with a small JSON sidecar saying where it
// came from (store-layout.ts). Catalog models are pulled (resumable, SHA-256 checked: store-pull.ts);
// any other model is imported from a local file after inspection (store-import.ts). This class is
// the store's face: names, lookups, and the errors that say what to do about a missing model.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import envPaths from 'env-paths';
import { EngineError } from '../core/errors.js';
import { fileSize, pathExists } from '../core/files.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Catalog, type CatalogEntry, catalogNames, findCatalogEntry, loadCatalogSync } from './catalog.js';
import { type FetchLike, sha256File } from './download.js';
import { normaliseModelName } from './model-name.js';
import { type ImportOptions, type ImportResult, importModel } from './store-import.js';
import { StoreLayout, type StoredModel } from './store-layout.js';
import { type ModelListing, listModels } from './store-listing.js';
import { type DownloadTuning, type PullOptions, type PullResult, SharedPulls } from './store-pull.js';

export interface VerifyResult {
  name: string;
  path: string;
  ok: boolean;
  expectedSha256: string;
  actualSha256: string;
  expectedBytes: number;
  actualBytes: number;
}

export interface ModelStoreOptions {
  /** The catalog to use instead of models/catalog.json (tests point it at a local server). */
  catalog?: Catalog;
  fetchImpl?: FetchLike;
  /** Download tuning (tests make retries fast). */
  download?: DownloadTuning;
}

export class ModelStore {
  readonly dir: string;
  readonly catalog: Catalog;
  private readonly layout: StoreLayout;
  private readonly pulls: SharedPulls;

  constructor(dir: string, options: ModelStoreOptions = {}) {
    this.dir = path.resolve(dir);
    this.catalog = options.catalog ?? loadCatalogSync();
    this.layout = new StoreLayout(this.dir);
    this.pulls = new SharedPulls(this.layout, this.catalog, { fetchImpl: options.fetchImpl, tuning: options.download ?? {} });
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
    return this.layout.modelPath(this.canonicalName(name));
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
    const file = this.layout.modelPath(canonical);
    if ((await fileSize(file)) === null) return null;
    const sidecar = await this.layout.readSidecar(canonical);
    return {
      name: canonical,
      source: entry ? 'catalog' : 'imported',
      path: file,
      sidecar,
      ...(entry ? { catalogEntry: entry } : {}),
    };
  }

  /** Catalog models (installed or not), then imported models. */
  list(): Promise<ModelListing[]> {
    return listModels(this.layout, this.catalog);
  }

  /**
   * Downloads a catalog model into the store (resuming an interrupted download), verifying its size
   * and SHA-256. Returns at once when it is already installed (unless `force`).
   */
  async pull(name: string, options: PullOptions = {}): Promise<PullResult> {
    const entry = this.catalogEntry(name);
    if (!entry) throw await this.notPullable(name);
    if (!options.force && (await fileSize(this.layout.modelPath(entry.name))) === entry.bytes) {
      return { ...(await this.get(entry.name))!, downloaded: false, resumedFrom: 0 };
    }
    return this.pulls.pull(entry, options);
  }

  /** Why a name that is not in the catalog cannot be pulled: it is an imported model, or unknown. */
  private async notPullable(name: string): Promise<EngineError> {
    let canonical: string | undefined;
    try {
      canonical = normaliseModelName(name);
    } catch {
      canonical = undefined;
    }
    if (canonical !== undefined && (await fileSize(this.layout.modelPath(canonical))) !== null) {
      return new EngineError(ErrorCode.INVALID_ARGUMENT, `"${canonical}" is an imported model, not a catalog model: there is nothing to pull`, { item: name });
    }
    return this.unknownModel(name);
  }

  /**
   * Copies a local .onnx file into the store after inspecting it. A file that is a catalog model
   * (same SHA-256) is installed as that catalog model; importing under a catalog name requires it.
   */
  import(file: string, options: ImportOptions = {}): Promise<ImportResult> {
    return importModel(this.layout, this.catalog, file, options);
  }

  /** Recomputes the installed file's SHA-256 and size and compares them with the catalog (or the sidecar). */
  async verify(name: string, options: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    const stored = await this.get(name);
    if (!stored) throw this.notInstalled(name);
    const expected = stored.catalogEntry ?? stored.sidecar;
    if (!expected) {
      throw new EngineError(
        ErrorCode.INVALID_ARGUMENT,
        `no checksum is recorded for ${stored.name} (its sidecar ${this.layout.sidecarPath(stored.name)} is missing or unreadable); remove it and import it again`,
        { item: stored.name },
      );
    }
    const actual = await sha256File(stored.path, options.signal);
    return {
      name: stored.name,
      path: stored.path,
      ok: actual.sha256 === expected.sha256 && actual.bytes === expected.bytes,
      expectedSha256: expected.sha256,
      actualSha256: actual.sha256,
      expectedBytes: expected.bytes,
      actualBytes: actual.bytes,
    };
  }

  /** Deletes an installed model with its sidecar, copied labels and any partial download. */
  async remove(name: string): Promise<{ name: string; path: string }> {
    const canonical = this.canonicalName(name);
    const file = this.layout.modelPath(canonical);
    const partial = this.layout.partialPath(canonical);
    const present = await Promise.all([file, this.layout.sidecarPath(canonical), partial].map(pathExists));
    if (!present.some(Boolean)) throw this.notInstalled(name);
    await rm(file, { force: true });
    await rm(this.layout.sidecarPath(canonical), { force: true });
    await rm(this.layout.labelsPath(canonical), { force: true });
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
