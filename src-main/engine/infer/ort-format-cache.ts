// The CPU session's cache of the optimised model, in onnxruntime's own ORT format (a flatbuffer),
// read into one buffer and handed to onnxruntime, which copies the weights out of it; the buffer is
// dropped once the session exists.
//
// Why the ORT format (reference ResNet-50, 102 MB of weights, 2 shared cores, `perf record`):
// creating a session from the optimised .onnx took 0.8–1.0 s, 30% of it memmove and 27% page
// faults — the weights were parsed into protobuf strings, then copied into onnxruntime's tensors.
// From the ORT-format bytes: 0.19–0.21 s, and no graph optimisation to redo.
//
// Why the weights are copied rather than used in place (session.use_ort_model_bytes_for_initializers,
// which this cache did until 2026-12-04): in place, creation takes 0.03 s instead of 0.19–0.21 s,
// but every inference reads its weights from the flatbuffer, and a batch of 8 took 273–290 ms
// instead of 221–228 ms (Intel Xeon, 2 cores, 3 interleaved processes each; a scratch script outside the repository).
// Across 200 small JPEGs that was 7.0–7.2 s of inference instead of 5.5 s; one batch pays back
// the copy. Keeping the bytes as well (use_ort_model_bytes_directly alone) saves 0.06 s of the copy
// but holds 100 MB more for the session's life.
import { open, rename, rm } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { tempPathFor } from '../core/files.js';
import './ort-telemetry.js'; // before the first session: onnxruntime's telemetry off

function withSessionEntries(options: ort.InferenceSession.SessionOptions, entries: Record<string, string>): ort.InferenceSession.SessionOptions {
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  return { ...options, extra: { ...extra, session: { ...(extra.session ?? {}), ...entries } } };
}

/**
 * The whole file in one buffer, read with as few calls as the kernel allows. fs.readFile reads in
 * 512 KiB pieces, each a round trip through libuv's thread pool: 0.12–0.6 s for the 102 MB model
 * on 2 busy cores, against one read that only copies from the page cache.
 */
async function readWhole(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafeSlow(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
      if (bytesRead === 0) throw new Error(`${file} shrank while being read`);
      filled += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Opens the cached ORT-format model. Throws when the file is missing or damaged. */
export async function openOrtFormat(file: string, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  // Already optimised for this CPU and onnxruntime build (the cache key says so): nothing to redo.
  return ort.InferenceSession.create(await readWhole(file), { ...options, graphOptimizationLevel: 'disabled' });
}

/**
 * Creates a session from `source` with full optimisation and saves the optimised graph to `file`
 * in ORT format. Written to a temporary name and renamed when complete, so a concurrent start
 * never reads half a file. When onnxruntime cannot save this graph in ORT format, the session is
 * made without a cache (the caller's create throws only when the model itself cannot load).
 */
export async function createAndSaveOrtFormat(
  file: string,
  create: (options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  const temp = tempPathFor(file);
  let session: ort.InferenceSession;
  try {
    session = await create(withSessionEntries({ ...options, optimizedModelFilePath: temp }, { save_model_format: 'ORT' }));
  } catch {
    await rm(temp, { force: true });
    return create(options);
  }
  try {
    await rename(temp, file);
  } catch {
    await rm(temp, { force: true }); // a read-only cache only costs the next start its optimisation
  }
  return session;
}
