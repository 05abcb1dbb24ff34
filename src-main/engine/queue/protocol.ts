// What travels through Redis between the coordinator (`reslens batch --queue`) and the workers
// (`reslens worker`): the queue names, and the two messages with their runtime schemas. Both sides
// validate what they read: Redis is a boundary (anyone who can write to it can write a job), and a
// worker only ever classifies the image files a chunk names, nothing else.
//
//   reslens:chunks              one queue for every run: a chunk = the model, the mode and ≤ 256 paths
//   reslens:results.<run>       per run: one message per chunk done (results or per-image errors)
//   reslens:dead                images given up on (their worker died on them too often), for inspection
import os from 'node:os';
import { z } from 'zod';
import { ErrorCode } from '../core/vocabulary.js';
import { PreprocessingSchema } from '../model/catalog.js';

export const QUEUE_PREFIX = 'reslens';
export const CHUNKS_QUEUE = 'chunks';
export const DEAD_QUEUE = 'dead';
export const resultsQueueName = (run: string): string => `results.${run}`;

export const PROTOCOL_VERSION = 1;
/** Largest chunk a worker accepts (memory and lock time stay bounded whatever a job says). */
export const MAX_CHUNK = 256;
const MAX_PATH = 4096;
/** A batch's input tensor is allocated up front: what a job may make a worker allocate for it. */
const MAX_BATCH_BYTES = 512 * 1024 * 1024;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const RunId = z.string().regex(/^[0-9a-f]{16,64}$/);

export const ChunkJobSchema = z
  .strictObject({
    v: z.literal(PROTOCOL_VERSION),
    run: RunId,
    model: z.strictObject({ name: z.string().min(1).max(200), sha256: Sha256 }),
    /** The coordinator's preprocessing for the model, so every worker prepares images the same way. */
    preprocessing: PreprocessingSchema.extend({ resizeShorter: z.number().int().min(1).max(4096), crop: z.number().int().min(1).max(2048) }),
    mode: z.enum(['fast', 'exact']),
    top: z.number().int().min(1).max(1000),
    maxPixels: z.number().int().positive().optional(),
    batchSize: z.number().int().min(1).max(1024).optional(),
    paths: z.array(z.string().min(1).max(MAX_PATH)).min(1).max(MAX_CHUNK),
  })
  .refine((job) => (job.batchSize ?? 8) * 3 * job.preprocessing.crop ** 2 * 4 <= MAX_BATCH_BYTES, 'batch too large for a worker (batch size × crop)');
export type ChunkJob = z.infer<typeof ChunkJobSchema>;

const ErrorCodeSchema = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

export const WorkerResultSchema = z.union([
  z.strictObject({
    path: z.string().min(1).max(MAX_PATH),
    top: z.array(z.strictObject({ index: z.number().int().min(0), prob: z.number().min(0).max(1) })).max(1000),
    ep: z.string().max(40),
    ms: z.number().min(0),
  }),
  z.strictObject({
    path: z.string().min(1).max(MAX_PATH),
    error: z.strictObject({ code: ErrorCodeSchema, message: z.string().max(2000) }),
  }),
]);
export type WorkerResult = z.infer<typeof WorkerResultSchema>;

export const ResultsJobSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  chunk: z.string().min(1).max(200),
  worker: z.string().min(1).max(300),
  results: z.array(WorkerResultSchema).max(MAX_CHUNK),
});
export type ResultsJob = z.infer<typeof ResultsJobSchema>;

/** A worker's name in results: host:pid, as the issue asks (unique enough to tell workers apart). */
export const workerId = (): string => `${os.hostname()}:${process.pid}`;

/**
 * A chunk that failed with one of our coded errors names the code first ("MODEL_MISMATCH: …"), so the
 * coordinator can turn it into rows with that code; anything else (a crash, a stall) has no code.
 */
export function codedFailure(reason: string | undefined): { code: ErrorCode; message: string } | undefined {
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (!match || !(Object.values(ErrorCode) as string[]).includes(match[1])) return undefined;
  return { code: match[1] as ErrorCode, message: match[2] };
}
