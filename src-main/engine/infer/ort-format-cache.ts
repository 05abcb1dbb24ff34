// The CPU session's cache of the optimised model, in onnxruntime's own ORT format (a flatbuffer),
// loaded from bytes that onnxruntime uses in place: its initializers point into the buffer instead
// of being copied out of a protobuf.
//
// Why (reference ResNet-50, 102 MB of weights, 2 shared cores, `perf record`): creating a session
// from the optimised .onnx took 0.8–1.0 s, 30% of it memmove and 27% page faults — the weights
// were read, parsed into protobuf strings, then copied into onnxruntime's tensors, each copy into
// freshly faulted pages (63 000 minor faults). From the ORT-format file read into one buffer with
// session.use_ort_model_bytes_directly + use_ort_model_bytes_for_initializers: 0.45 s and 37 000
// faults, with bit-identical logits. (Loading the ORT file by path copies again: 1.2 s.)
import { open, rename, rm } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { tempPathFor } from '../core/files.js';
import './ort-telemetry.js'; // before the first session: onnxruntime's telemetry off

/**
 * The buffers sessions use in place, kept alive as long as their session object: onnxruntime reads
 * the weights from this memory for the session's whole life.
 */
const inPlaceBytes = new WeakMap<ort.InferenceSession, Uint8Array>();

/** Session options that make onnxruntime use an ORT-format buffer in place (no copy of the weights). */
export const IN_PLACE_OPTIONS = { use_ort_model_bytes_directly: '1', use_ort_model_bytes_for_initializers: '1' } as const;

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

/** Opens the cached ORT-format model, its bytes used in place. Throws when the file is missing or damaged. */
export async function openOrtFormat(file: string, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const bytes = await readWhole(file);
  // Already optimised for this CPU and onnxruntime build (the cache key says so): nothing to redo.
  const session = await ort.InferenceSession.create(bytes, withSessionEntries({ ...options, graphOptimizationLevel: 'disabled' }, IN_PLACE_OPTIONS));
  inPlaceBytes.set(session, bytes);
  return session;
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
