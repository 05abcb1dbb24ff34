// The Images session: the photos classified one by one (dropped or opened), kept in the data folder
// so a reload or a restart shows the cards again. One entry per photo (a reclassification with
// another model replaces it), the newest MAX_IMAGES kept.
//
// Nothing in the file is opened: a card gets its image id back only while the host still resolves
// that id to the same path (a reload in browser mode, the same app run); after a restart the id is
// unknown and the card keeps its result, saying the photo itself is not open any more. So a crafted
// file cannot make the engine read a path the user never chose in this run.
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from './json-file.js';
import { ERROR_CODES, ErrorCode } from '../core/vocabulary.js';

export const IMAGES_SESSION_FILE = 'images-session.json';
export const MAX_IMAGES = 500;
const MAX_BYTES = 4 * 1024 * 1024;

const ScoreSchema = z.object({ index: z.number().int().min(0).max(1e6), label: z.string().max(300), prob: z.number().min(0).max(1) }).strict();
export const ImageEntrySchema = z
  .object({
    path: z.string().min(1).max(4096),
    /** The host's id for the photo when it was classified. */
    id: z.string().regex(/^img_[A-Za-z0-9_-]{8,64}$/),
    name: z.string().min(1).max(300),
    at: z.string().max(40),
    model: z.string().max(200),
    result: z.union([
      z.object({ top: z.array(ScoreSchema).max(20), ep: z.string().max(40), ms: z.number().min(0).max(1e9) }).strict(),
      z.object({ error: z.object({ code: z.enum(ERROR_CODES).catch(ErrorCode.INTERNAL), message: z.string().max(2000) }).strict() }).strict(),
    ]),
  })
  .strict();
export type ImageEntry = z.infer<typeof ImageEntrySchema>;

const FileSchema = z.object({ reslens: z.literal('images-session'), version: z.literal(1), images: z.array(ImageEntrySchema).max(MAX_IMAGES * 2) }).strict();

export class ImagesSession {
  notice: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async list(): Promise<ImageEntry[]> {
    return this.serial(() => this.read());
  }

  /** Records results (in the order given), replacing earlier ones of the same photos. */
  async add(entries: ImageEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const checked = entries.map((e) => ImageEntrySchema.parse(e));
    await this.serial(async () => {
      const paths = new Set(checked.map((e) => e.path));
      const kept = (await this.read()).filter((e) => !paths.has(e.path));
      await this.write([...kept, ...checked].slice(-MAX_IMAGES));
    });
  }

  /** Forgets these photos (all when none are named): the page's Clear. */
  async clear(paths?: readonly string[]): Promise<number> {
    return this.serial(async () => {
      const all = await this.read();
      const drop = paths ? new Set(paths) : undefined;
      const kept = drop ? all.filter((e) => !drop.has(e.path)) : [];
      await this.write(kept);
      return all.length - kept.length;
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<ImageEntry[]> {
    const { value, notice } = await readJsonFile(this.file, FileSchema, MAX_BYTES, 'the Images session');
    if (notice) this.notice = notice;
    return value?.images ?? [];
  }

  private write(images: ImageEntry[]): Promise<void> {
    return writeJsonAtomic(this.file, { reslens: 'images-session', version: 1, images });
  }
}
