// What a journal result line must look like before anything acts on it. A journal is a file like any
// other: in a shared folder another user may append to it, and a damaged disk may change it. A line
// naming /etc/hostname was exported and organised (copied) until lines were checked; now a line must
// have the exact shape ResLens writes, a path under one of the run's inputs, and a result for that path.
import { z } from 'zod';
import { ErrorCode } from '../core/vocabulary.js';
import { underInputs } from './containment.js';

const finite = z.number().refine(Number.isFinite);
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\0'), 'no NUL');
const filePath = text(4096).min(1);

const ClassScoreSchema = z.object({ index: z.number().int().min(0).max(1_000_000), label: text(1000), prob: z.number().min(0).max(1) });
// Optional fields some runs write: the queue worker that answered (host:pid) and an int8 copy's mark.
// zod drops keys a schema does not name, so each one the exports carry must be listed here.
const worker = text(300).optional();
const SuccessSchema = z.object({
  path: filePath,
  top: z.array(ClassScoreSchema).max(1000),
  model: text(1000),
  ep: text(100),
  ms: finite.min(0),
  precision: z.literal('int8').optional(),
  worker,
  // A specialised run's per-image record (a lesion study's outcomes): its owner checks its shape.
  details: z.unknown().optional(),
});
const FailureSchema = z.object({
  path: filePath,
  error: z.object({ code: z.enum(Object.values(ErrorCode) as [string, ...string[]]), message: text(10_000) }),
  worker,
});

export const JournalResultLineSchema = z.object({
  path: filePath,
  size: finite.min(-1),
  mtimeMs: finite,
  result: z.union([FailureSchema, SuccessSchema]),
});

export type JournalResultLine = z.infer<typeof JournalResultLineSchema>;

/**
 * The line as a result record, or null when it is not one ResLens wrote for this run: wrong shape, a
 * result for another path, or (with `inputs`) a path outside every input of the run.
 */
export function checkedResultLine(value: unknown, inputs?: readonly string[]): JournalResultLine | null {
  const parsed = JournalResultLineSchema.safeParse(value);
  if (!parsed.success) return null;
  const line = parsed.data;
  if (line.result.path !== line.path) return null;
  if (inputs && inputs.length > 0 && !underInputs(line.path, inputs)) return null;
  return line;
}
