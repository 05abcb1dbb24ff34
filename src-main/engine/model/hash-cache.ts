// A model file's SHA-256, remembered per file identity in the user's cache folder, so that opening
// a model does not read and hash all of it on every start (the int8 copy is found by the fp32
// file's hash, and every model open asks whether one exists).
//
// Why (one-photo `reslens classify`, reference ResNet-50, 102 MB, `--cpu-prof`): hashing took a
// fifth of the process's CPU time — SHA-256 itself plus reading the file through a stream into
// freshly allocated buffers, each a round of page faults. The cache entry costs one stat and one
// small read.
//
// Keyed like model/prepared-cache.ts: device, inode, size, and modification and change times in
// nanoseconds (ctime cannot be set by users), so an edited or replaced file always misses. A
// damaged or foreign entry is ignored and rewritten.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../core/files.js';
import { sha256File } from './download.js';
import { fileIdentity } from './prepared-cache.js';

interface Entry {
  identity: string;
  sha256: string;
}

function entryPath(cacheDir: string, identity: string): string {
  return path.join(cacheDir, 'hashes', `${createHash('sha256').update(identity).digest('hex').slice(0, 40)}.json`);
}

/** The file's SHA-256: remembered when `cacheDir` holds an entry for this very file, else computed (and remembered). */
export async function cachedSha256File(file: string, cacheDir: string | undefined): Promise<string> {
  if (!cacheDir) return (await sha256File(file)).sha256;
  const identity = await fileIdentity(file);
  const where = entryPath(cacheDir, identity);
  try {
    const entry = JSON.parse(await readFile(where, 'utf8')) as Entry;
    if (entry.identity === identity && /^[0-9a-f]{64}$/.test(entry.sha256)) return entry.sha256;
  } catch {
    // no entry yet, or a damaged one: hash below
  }
  const { sha256 } = await sha256File(file);
  // The file changed while it was hashed: the hash may mix two versions, so it is not remembered.
  if ((await fileIdentity(file)) !== identity) return sha256;
  try {
    await mkdir(path.dirname(where), { recursive: true });
    await replaceFile(where, JSON.stringify({ identity, sha256 } satisfies Entry));
  } catch {
    // Best effort: a read-only or full cache folder only costs the next start its hashing.
  }
  return sha256;
}
