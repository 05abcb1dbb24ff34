// Image ids for batch results' photos: the feature view and explanations take an image id, and the
// host issues those only for files the user chose. A result of a run the engine knows is such a file
// too (the user chose its folder), so the engine issues ids for them here, from its own rows
// (BatchJobs.resultFile), never from a path the UI sent. Bounded: the oldest ids are forgotten.
import { randomBytes } from 'node:crypto';

/** Ids kept at once: far more than the feature views one page opens. */
export const MAX_RESULT_IMAGES = 512;

export class ResultImages {
  private readonly byId = new Map<string, { path: string; name: string }>();

  issue(file: { path: string; name: string }): `img_${string}` {
    const id = `img_r${randomBytes(12).toString('base64url')}` as const;
    this.byId.set(id, { path: file.path, name: file.name });
    while (this.byId.size > MAX_RESULT_IMAGES) this.byId.delete(this.byId.keys().next().value as string);
    return id;
  }

  resolve(id: string): { path: string; name: string } | undefined {
    return this.byId.get(id);
  }
}
