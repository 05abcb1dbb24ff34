// What loading a model learns before its session starts — the file's SHA-256, its inspection
// (ModelInfo), where its stages are and the classifier head's weights — remembered per model file,
// so the next start skips hashing and decoding the whole protobuf. On the reference ResNet-50
// (102 MB) that is ~190 ms of SHA-256 and ~220 ms of protobuf decoding (plus reading the file) out
// of a 1.8 s one-photo `reslens classify` (measured with --cpu-prof, 2 shared cores).
//
// Keyed by the file's identity: device, inode, size, and modification and change times in
// nanoseconds. ctime cannot be set by users, so an edited or replaced file always misses. The
// entries live in the user's own cache folder; a damaged or foreign entry is ignored and rewritten.
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../core/files.js';
import type { ClassifierWeights } from './classifier-weights.js';
import type { ModelInfo } from './inspect.js';
import type { StageMap } from './stages.js';

/** Bumped whenever what is stored (or how a model is prepared) changes. */
const FORMAT = 2; // 2: stages carry their receptive field

export interface PreparedModel {
  info: ModelInfo;
  /** The edited graph with stage outputs, or undefined when feature maps are unavailable. */
  exposed?: { file: string; sha256: string };
  stageMap?: StageMap;
  stagesError?: string;
  head?: ClassifierWeights;
}

interface Entry {
  format: number;
  identity: string;
  variant: string;
  info: ModelInfo;
  exposed?: { file: string; sha256: string };
  stageMap?: StageMap;
  stagesError?: string;
  head?: { classesFirst: boolean; classes: number; features: number; weightLength: number; biasLength: number };
}

/** Who a file is: path, device, inode, size, mtime and ctime in ns (model/hash-cache.ts keys by it too). */
export async function fileIdentity(file: string): Promise<string> {
  const s = await stat(file, { bigint: true });
  return [path.resolve(file), s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(':');
}

function entryPaths(cacheDir: string, identity: string, variant: string): { json: string; weights: string } {
  const key = createHash('sha256').update(identity).update('\0').update(variant).digest('hex').slice(0, 40);
  const base = path.join(cacheDir, 'prepared', key);
  return { json: `${base}.json`, weights: `${base}.head.bin` };
}

/** The remembered preparation of `file` for `variant` (what the graph edit adds), or undefined. */
export async function readPrepared(cacheDir: string, file: string, variant: string): Promise<PreparedModel | undefined> {
  try {
    const identity = await fileIdentity(file);
    const paths = entryPaths(cacheDir, identity, variant);
    const entry = JSON.parse(await readFile(paths.json, 'utf8')) as Entry;
    if (entry.format !== FORMAT || entry.identity !== identity || entry.variant !== variant || entry.info?.sha256?.length !== 64) return undefined;
    // The edited graph is a separate cache entry that may have been cleaned away.
    if (entry.exposed) await stat(`${entry.exposed.file}.ok`);
    let head: ClassifierWeights | undefined;
    if (entry.head) {
      const bytes = await readFile(paths.weights);
      const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (floats.length !== entry.head.weightLength + entry.head.biasLength) return undefined;
      head = {
        weight: floats.subarray(0, entry.head.weightLength),
        bias: entry.head.biasLength > 0 ? floats.subarray(entry.head.weightLength) : undefined,
        classesFirst: entry.head.classesFirst,
        classes: entry.head.classes,
        features: entry.head.features,
      };
    }
    return { info: { ...entry.info, path: path.resolve(file) }, exposed: entry.exposed, stageMap: entry.stageMap, stagesError: entry.stagesError, head };
  } catch {
    return undefined;
  }
}

/** Remembers a preparation; failures are ignored (the next start prepares again). */
export async function writePrepared(cacheDir: string, file: string, variant: string, prepared: PreparedModel): Promise<void> {
  try {
    const identity = await fileIdentity(file);
    const paths = entryPaths(cacheDir, identity, variant);
    await mkdir(path.dirname(paths.json), { recursive: true });
    const head = prepared.head;
    const entry: Entry = {
      format: FORMAT,
      identity,
      variant,
      info: prepared.info,
      exposed: prepared.exposed,
      stageMap: prepared.stageMap,
      stagesError: prepared.stagesError,
      head: head
        ? {
            classesFirst: head.classesFirst,
            classes: head.classes,
            features: head.features,
            weightLength: head.weight.length,
            biasLength: head.bias?.length ?? 0,
          }
        : undefined,
    };
    if (head) {
      const floats = new Float32Array(head.weight.length + (head.bias?.length ?? 0));
      floats.set(head.weight);
      if (head.bias) floats.set(head.bias, head.weight.length);
      await replaceFile(paths.weights, new Uint8Array(floats.buffer));
    }
    // The JSON goes last: an entry whose weights are missing or half written is never read.
    await replaceFile(paths.json, JSON.stringify(entry));
  } catch {
    // Best effort: a read-only or full cache folder only costs the next start its preparation.
  }
}
