// What the model store holds, as people see it in `reslens models list` and the app's model menu:
// every catalog model (installed or not), then the imported ones found in the folder.
import { readdir } from 'node:fs/promises';
import { fileSize } from '../core/files.js';
import { type Catalog, type CatalogEntry, findCatalogEntry } from './catalog.js';
import { STORE_NAME } from './model-name.js';
import { type ModelSource, type StoreLayout } from './store-layout.js';

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

/** Catalog models (installed or not), then imported models. */
export async function listModels(layout: StoreLayout, catalog: Catalog): Promise<ModelListing[]> {
  const listings: ModelListing[] = [];
  for (const entry of catalog.models) listings.push(await catalogListing(layout, entry));
  for (const name of await importedNames(layout, catalog)) listings.push(await importedListing(layout, name));
  return listings;
}

async function catalogListing(layout: StoreLayout, entry: CatalogEntry): Promise<ModelListing> {
  const file = layout.modelPath(entry.name);
  const installed = (await fileSize(file)) !== null;
  const sidecar = installed ? await layout.readSidecar(entry.name) : null;
  return {
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
  };
}

/** Store names of the .onnx files in the folder that are not catalog models, sorted. */
async function importedNames(layout: StoreLayout, catalog: Catalog): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(layout.dir);
  } catch {
    files = [];
  }
  return files
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => f.slice(0, -'.onnx'.length))
    .filter((name) => STORE_NAME.test(name) && !findCatalogEntry(catalog, name))
    .sort();
}

async function importedListing(layout: StoreLayout, name: string): Promise<ModelListing> {
  const file = layout.modelPath(name);
  const sidecar = await layout.readSidecar(name);
  return {
    name,
    aliases: [],
    title: sidecar?.importedFrom ? `imported from ${sidecar.importedFrom}` : 'imported model',
    source: 'imported',
    installed: true,
    path: file,
    bytes: sidecar?.bytes ?? (await fileSize(file)),
    sha256: sidecar?.sha256 ?? null,
    ...(sidecar ? { addedAt: sidecar.addedAt, importedFrom: sidecar.importedFrom } : {}),
  };
}
