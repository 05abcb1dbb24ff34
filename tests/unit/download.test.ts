// downloadVerified against a real HTTP server on 127.0.0.1: resume, Range handling, checksums, errors.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { type TransferProgress, downloadVerified, parseContentRange, describeNetworkError } from '../../src-main/engine/model/download.js';
import { type FileServer, closedPort, randomSha256, startFileServer, testPayload } from '../helpers/file-server.js';

const SIZE = 1_000_000;
const payload = testPayload(SIZE);
const small = testPayload(10_000, 2);

let server: FileServer;
let dir: string;

beforeAll(async () => {
  server = await startFileServer({ '/model.onnx': payload.body, '/small.onnx': small.body, '/short.onnx': payload.body.subarray(0, 1000) });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-download-'));
  server.reset();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const paths = () => ({ destination: path.join(dir, 'm.onnx'), partial: path.join(dir, '.partial', 'm.onnx.part') });
const fast = { maxRetries: 3, retryDelayMs: 5, progressIntervalMs: 0 };

async function expectEngineError(promise: Promise<unknown>, code: string): Promise<EngineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  expect((error as EngineError).code).toBe(code);
  return error as EngineError;
}

async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true })) {
    const full = path.join(dir, entry);
    if ((await stat(full)).isFile()) found.push(entry);
  }
  return found;
}

describe('downloadVerified', () => {
  it('downloads, reports progress and verifies the SHA-256', async () => {
    const events: TransferProgress[] = [];
    const result = await downloadVerified({
      url: server.url('/model.onnx'),
      ...paths(),
      expectedBytes: SIZE,
      expectedSha256: payload.sha256,
      name: 'm',
      onProgress: (p) => events.push(p),
      ...fast,
    });
    expect(result).toMatchObject({ bytes: SIZE, sha256: payload.sha256, resumedFrom: 0, attempts: 1 });
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
    expect(existsSync(paths().partial)).toBe(false);
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({ received: SIZE, total: SIZE });
    for (let i = 1; i < events.length; i++) expect(events[i].received).toBeGreaterThanOrEqual(events[i - 1].received);
    expect(events.every((e) => e.bytesPerSecond >= 0)).toBe(true);
    // Identity encoding: byte offsets for Range must be offsets into the file itself.
    expect(server.requests[0].acceptEncoding).toBe('identity');
  });

  it('resumes with a Range request after the connection drops midway', async () => {
    server.behaviours.set('/model.onnx', [{ dropAfter: 400_000 }]);
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.sha256).toBe(payload.sha256);
    expect(result.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0].range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(server.requests[1].range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(400_000);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('survives several drops in a row and follows redirects while resuming', async () => {
    server.redirects.set('/moved.onnx', '/model.onnx');
    server.behaviours.set('/model.onnx', [{ dropAfter: 200_000 }, { dropAfter: 200_000 }, { dropAfter: 200_000 }]);
    const result = await downloadVerified({ url: server.url('/moved.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.sha256).toBe(payload.sha256);
    const fileRequests = server.requests.filter((r) => r.path === '/model.onnx');
    expect(fileRequests).toHaveLength(4);
    expect(fileRequests.slice(1).every((r) => r.range?.startsWith('bytes='))).toBe(true);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('starts again from 0 when the server ignores Range and answers 200', async () => {
    server.behaviours.set('/model.onnx', [{ dropAfter: 300_000 }, { ignoreRange: true }]);
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.sha256).toBe(payload.sha256);
    expect(server.requests[1].range).toMatch(/^bytes=\d+-$/);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('resumes a .part file left by a killed process, hashing the bytes already on disk', async () => {
    const { partial } = paths();
    await mkdir(path.dirname(partial), { recursive: true });
    await writeFile(partial, payload.body.subarray(0, 123_456));
    const events: TransferProgress[] = [];
    const result = await downloadVerified({
      url: server.url('/model.onnx'),
      ...paths(),
      expectedBytes: SIZE,
      expectedSha256: payload.sha256,
      onProgress: (p) => events.push(p),
      ...fast,
    });
    expect(result.resumedFrom).toBe(123_456);
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=123456-']);
    expect(events[0].received).toBe(123_456);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('discards a .part file bigger than the expected size', async () => {
    const { partial } = paths();
    await mkdir(path.dirname(partial), { recursive: true });
    await writeFile(partial, Buffer.alloc(SIZE + 10, 7));
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.resumedFrom).toBe(0);
    expect(server.requests.map((r) => r.range)).toEqual([undefined]);
  });

  it('finishes without a request when a complete .part only lacked the final rename', async () => {
    const { partial } = paths();
    await mkdir(path.dirname(partial), { recursive: true });
    await writeFile(partial, payload.body);
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.attempts).toBe(0);
    expect(server.requests).toHaveLength(0);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('rejects a SHA-256 mismatch with CHECKSUM_MISMATCH and leaves nothing behind', async () => {
    const wrong = randomSha256();
    const error = await expectEngineError(
      downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: wrong, name: 'm', ...fast }),
      'CHECKSUM_MISMATCH',
    );
    expect(error.message).toContain(wrong);
    expect(error.message).toContain(payload.sha256);
    expect(error.hint).toEqual({ actions: ['import'], model: 'm' }); // the host words it (reslens models import …, or the app's Import)
    expect(await leftovers()).toEqual([]);
  });

  it('rejects a server offering another size before downloading it all', async () => {
    const error = await expectEngineError(
      downloadVerified({ url: server.url('/small.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast }),
      'CHECKSUM_MISMATCH',
    );
    expect(error.message).toMatch(/10000 bytes.*1000000/);
    expect(await leftovers()).toEqual([]);
  });

  it('handles 416 for a partial file longer than the remote file by starting over', async () => {
    const { partial } = paths();
    await mkdir(path.dirname(partial), { recursive: true });
    await writeFile(partial, payload.body.subarray(0, 5000));
    // /short.onnx is 1000 bytes: resuming from 5000 is unsatisfiable, and the fresh start has the wrong size.
    await expectEngineError(
      downloadVerified({ url: server.url('/short.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast }),
      'CHECKSUM_MISMATCH',
    );
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=5000-', undefined]);
    expect(await leftovers()).toEqual([]);
  });

  it('fails with DOWNLOAD_FAILED on HTTP 404, without retrying or leftovers', async () => {
    const error = await expectEngineError(
      downloadVerified({ url: server.url('/missing.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, name: 'resnet50-v1', ...fast }),
      'DOWNLOAD_FAILED',
    );
    expect(error.message).toContain('HTTP 404');
    expect(error.hint).toEqual({ actions: ['import'], model: 'resnet50-v1' }); // the host words it (reslens models import …, or the app's Import)
    expect(server.requests).toHaveLength(1);
    expect(await leftovers()).toEqual([]);
  });

  it('retries a 503 and succeeds', async () => {
    server.behaviours.set('/model.onnx', [{ status: 503 }, { status: 503 }]);
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.attempts).toBe(3);
  });

  it('gives up after the bounded retries and deletes the partial file', async () => {
    server.behaviours.set('/model.onnx', [{ dropAfter: 100_000 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const error = await expectEngineError(
      downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast, maxRetries: 2 }),
      'DOWNLOAD_FAILED',
    );
    expect(error.message).toContain('HTTP 503');
    expect(server.requests).toHaveLength(4);
    expect(await leftovers()).toEqual([]);
  });

  it('explains an unreachable host and how to import a file instead', async () => {
    const port = await closedPort();
    const error = await expectEngineError(
      downloadVerified({
        url: `http://127.0.0.1:${port}/x.onnx`,
        ...paths(),
        expectedBytes: SIZE,
        expectedSha256: payload.sha256,
        name: 'resnet50-v1',
        ...fast,
        maxRetries: 1,
      }),
      'DOWNLOAD_FAILED',
    );
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('cannot reach');
    expect(error.hint).toEqual({ actions: ['import'], model: 'resnet50-v1' }); // the host words it (reslens models import …, or the app's Import)
    expect(await leftovers()).toEqual([]);
  });

  it('retries a stalled transfer, resuming where it stopped', async () => {
    server.behaviours.set('/model.onnx', [{ stallAfter: 250_000 }]);
    const result = await downloadVerified({
      url: server.url('/model.onnx'),
      ...paths(),
      expectedBytes: SIZE,
      expectedSha256: payload.sha256,
      ...fast,
      stallTimeoutMs: 300,
    });
    expect(result.sha256).toBe(payload.sha256);
    expect(server.requests[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('cancels on abort with CANCELLED and keeps the partial file for the next run', async () => {
    server.behaviours.set('/model.onnx', [{ stallAfter: 250_000 }]);
    const controller = new AbortController();
    const promise = downloadVerified({
      url: server.url('/model.onnx'),
      ...paths(),
      expectedBytes: SIZE,
      expectedSha256: payload.sha256,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.received > 0) controller.abort();
      },
      ...fast,
    });
    await expectEngineError(promise, 'CANCELLED');
    const kept = (await stat(paths().partial)).size;
    expect(kept).toBeGreaterThan(0);
    expect(existsSync(paths().destination)).toBe(false);
    // The next run picks it up.
    const result = await downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, ...fast });
    expect(result.resumedFrom).toBe(kept);
    expect((await readFile(paths().destination)).equals(payload.body)).toBe(true);
  });

  it('refuses to start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expectEngineError(
      downloadVerified({ url: server.url('/model.onnx'), ...paths(), expectedBytes: SIZE, expectedSha256: payload.sha256, signal: controller.signal }),
      'CANCELLED',
    );
    expect(server.requests).toHaveLength(0);
  });
});

describe('download helpers', () => {
  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 100-999/1000')).toEqual({ start: 100, end: 999, total: 1000 });
    expect(parseContentRange('bytes */1000')).toEqual({ start: null, end: null, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
    expect(parseContentRange('nonsense')).toBeNull();
    expect(parseContentRange(null)).toBeNull();
  });

  it('finds the system error code in a fetch error chain', () => {
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND example.invalid'), { code: 'ENOTFOUND' });
    const described = describeNetworkError(new TypeError('fetch failed', { cause }));
    expect(described.code).toBe('ENOTFOUND');
    expect(described.offline).toBe(true);
    expect(described.text).toContain('fetch failed');
  });
});
