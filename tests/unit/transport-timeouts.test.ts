// The page's request limits (src-renderer/lib/transport/timeouts.ts): an engine that stops answering
// fails every waiting call within seconds (a liveness probe), a live engine's slow answer is not cut
// off, and each kind of request has its hard limit.
import { describe, expect, it } from 'vitest';
import type { ReslensApi } from '../../src-main/api/contract.js';
import { withTimeouts } from '../../src-renderer/lib/transport/timeouts.js';

type Answer = (method: string) => Promise<unknown>;

function fakeApi(answer: Answer): ReslensApi {
  return {
    call: ((method: string) => answer(method)) as ReslensApi['call'],
    on: () => () => undefined,
  };
}

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('transport timeouts', () => {
  it('fails a waiting call with TIMEOUT when the engine does not answer the liveness probe', async () => {
    const api = withTimeouts(
      fakeApi(() => never()),
      { probeAfterMs: 50, probeTimeoutMs: 80 },
    );
    const started = performance.now();
    await expect(api.call('features.get', { image: 'img_1' } as never)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(120);
    expect(took).toBeLessThan(1000);
  });

  it('lets a slow answer through while the engine answers the probe (a busy engine is not a dead one)', async () => {
    const probes: string[] = [];
    const api = withTimeouts(
      fakeApi((method) => {
        if (method === 'engine.status') {
          probes.push(method);
          return after(10, { model: null });
        }
        return after(400, 'maps');
      }),
      { probeAfterMs: 50, probeTimeoutMs: 80 },
    );
    await expect(api.call('features.get', { image: 'img_1' } as never)).resolves.toBe('maps');
    expect(probes.length).toBeGreaterThanOrEqual(2);
  });

  it('applies the hard limit of a kind of request, and none to a model download', async () => {
    const api = withTimeouts(
      fakeApi((method) => (method === 'engine.status' ? after(1, {}) : method === 'models.select' ? after(300, 'loaded') : never())),
      { probeAfterMs: 1000, limits: { 'images.thumbnail': 100, 'models.select': null } },
    );
    await expect(api.call('images.thumbnail', { image: 'img_1', size: 64 } as never)).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringContaining('images.thumbnail'),
    });
    await expect(api.call('models.select', { name: 'resnet50' } as never)).resolves.toBe('loaded');
  });

  it('passes errors and events through unchanged', async () => {
    const error = Object.assign(new Error('x'), { code: 'DECODE_FAILED' });
    const api = withTimeouts(fakeApi(() => Promise.reject(error)));
    await expect(api.call('images.classify', { images: ['img_1'] } as never)).rejects.toBe(error);
  });
});
