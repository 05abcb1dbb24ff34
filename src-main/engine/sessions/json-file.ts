// The data folder's small JSON files (the session index, the Images session): read with a zod
// schema, never trusted; a file that does not parse or match is moved aside (`<file>.corrupt-<time>`)
// with a note for the UI rather than crashing the engine or silently dropping it; written atomically
// (a fresh exclusive temp name in the same folder, then rename), so a crash leaves the old file or
// the new one, and a planted temp-name link is never followed.
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { replaceFile } from '../core/files.js';

export type JsonRead<T> = { value: T | undefined; notice: string | null };

/** `value` undefined: no file (or it was set aside / unreadable, said in `notice`). */
export async function readJsonFile<T>(file: string, schema: z.ZodType<T>, maxBytes: number, what: string): Promise<JsonRead<T>> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > maxBytes) return setAside(file, what, `it is ${bytes.length} bytes, more than it ever needs`);
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { value: undefined, notice: null };
    if (code === 'EISDIR') return setAside(file, what, 'it is a folder, not a file');
    return { value: undefined, notice: `${what} ${file} could not be read (${code ?? (error as Error).message}); it is not shown` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return setAside(file, what, 'it is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Where it went wrong, not the schema's wording (a regular expression means nothing to a user).
    return setAside(file, what, `it does not match the expected format at ${issue?.path.join('.') || 'the top level'}`);
  }
  return { value: parsed.data, notice: null };
}

async function setAside<T>(file: string, what: string, why: string): Promise<JsonRead<T>> {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await rename(file, aside);
    return { value: undefined, notice: `${what} was damaged (${why}): it was moved to ${aside} and a new one started` };
  } catch (error) {
    return {
      value: undefined,
      notice: `${what} ${file} is damaged (${why}) and could not be moved aside (${(error as NodeJS.ErrnoException).code ?? 'error'}); it is not shown`,
    };
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await replaceFile(file, `${JSON.stringify(value, null, 1)}\n`, { mode: 0o600 });
}
