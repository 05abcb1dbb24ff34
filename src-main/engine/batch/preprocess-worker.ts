// One preprocessing worker: file → decoded, resized, normalised tensor, off the main thread (where
// onnxruntime's run() blocks for the whole inference). Buffers travel both ways as transfers.
import { parentPort } from 'node:worker_threads';
import { ErrorCode, toErrorInfo } from '../errors.js';
import { preprocessFile } from '../preprocess/preprocess.js';
import type { WorkerReply, WorkerRequest } from './preprocess-pool.js';

const port = parentPort;
if (!port) throw new Error('preprocess-worker must run in a worker thread');

port.on('message', (request: WorkerRequest) => {
  const { id, file, spec, maxPixels, shrinkOnLoad } = request;
  const target = request.buffer ? new Float32Array(request.buffer) : new Float32Array(3 * spec.crop * spec.crop);
  preprocessFile(file, spec, { maxPixels, shrinkOnLoad, target, offset: 0 }).then(
    (result) => {
      const reply: WorkerReply = { id, buffer: target.buffer as ArrayBuffer, ms: result.timings.decodeMs + result.timings.resizeMs };
      port.postMessage(reply, [target.buffer as ArrayBuffer]);
    },
    (error: unknown) => {
      const { code, message } = toErrorInfo(error, ErrorCode.DECODE_FAILED);
      const reply: WorkerReply = { id, buffer: target.buffer as ArrayBuffer, error: { code, message } };
      port.postMessage(reply, [target.buffer as ArrayBuffer]);
    },
  );
});
port.postMessage({ ready: true });
