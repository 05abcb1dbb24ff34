// One preprocessing worker: file → decoded, resized, normalised tensor, off the main thread (where
// onnxruntime's run() blocks for the whole inference). Buffers travel both ways as transfers.
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { attachPixelBudget } from '../preprocess/pixel-budget.js';
import { preprocessFile } from '../preprocess/preprocess.js';
import type { WorkerReply, WorkerRequest } from './preprocess-pool.js';

const port = parentPort;
if (!port) throw new Error('preprocess-worker must run in a worker thread');
// Decoded pixels count against the main thread's budget, not a budget of this thread's own.
const budget = (workerData as { pixelBudget?: SharedArrayBuffer } | null)?.pixelBudget;
if (budget) attachPixelBudget(budget);

async function handle(request: WorkerRequest): Promise<void> {
  const { id, file, spec, maxPixels, shrinkOnLoad } = request;
  const target = request.buffer ? new Float32Array(request.buffer) : new Float32Array(3 * spec.crop * spec.crop);
  let reply: WorkerReply;
  try {
    const result = await preprocessFile(file, spec, { maxPixels, shrinkOnLoad, target, offset: 0 });
    reply = { id, buffer: target.buffer as ArrayBuffer, ms: result.timings.decodeMs + result.timings.resizeMs };
  } catch (error) {
    const { code, message } = toErrorInfo(error, ErrorCode.DECODE_FAILED);
    reply = { id, buffer: target.buffer as ArrayBuffer, error: { code, message } };
  }
  (port as NonNullable<typeof port>).postMessage(reply, [target.buffer as ArrayBuffer]);
}

// One image at a time: the pool may queue several here, but only one is ever decoded in memory.
const queue: WorkerRequest[] = [];
let working = false;
async function work(): Promise<void> {
  if (working) return;
  working = true;
  while (queue.length > 0) await handle(queue.shift() as WorkerRequest);
  working = false;
}

port.on('message', (request: WorkerRequest) => {
  queue.push(request);
  void work();
});
port.postMessage({ ready: true });
