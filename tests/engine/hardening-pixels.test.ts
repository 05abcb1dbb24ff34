// Issue 14 #5: nothing bounded decoded pixels in flight across requests (eight 144 MP PNGs in one
// request took the process from 1.0 to 3.9 GB). Reproduced at a size this shared machine can afford:
// 4 MP PNGs, a 9 MP budget, several requests at once over the real server's WebSocket, and a batch
// whose decoding happens in worker threads. The budget's own counter (shared by every thread) must
// never pass the budget, and must see the workers' decodes at all.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../src-main/api/contract.js';
import { startBatch } from '../../src-main/engine/batch/run.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/model/catalog.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { DEFAULT_PIXEL_BUDGET, acquirePixels, pixelBudgetStats, resetPixelBudgetPeak, setPixelBudget } from '../../src-main/engine/preprocess/pixel-budget.js';
import { decodeMessage, encodeMessage } from '../../src-main/api/codec.js';
import { ReslensServer } from '../../src-main/server/server.js';
import { EngineService } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';

const SIDE = 2000; // 4 MP each
const BUDGET = 9_000_000; // two at once
let dir: string;
let png: Buffer;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-harden-pixels-'));
  png = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .png()
    .toBuffer();
  model = await ensureFixture({ depth: 18, bn: 'folded' });
});

afterAll(async () => {
  setPixelBudget(DEFAULT_PIXEL_BUDGET);
  await rm(dir, { recursive: true, force: true });
});

describe('#5 process-wide decoded-pixel budget', () => {
  it('an image larger than the whole budget still decodes, alone', async () => {
    setPixelBudget(1000);
    const big = await acquirePixels(5000);
    let second = false;
    const waiting = acquirePixels(10).then((release) => {
      second = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 120));
    expect(second).toBe(false);
    big();
    (await waiting)();
    expect(second).toBe(true);
    expect(pixelBudgetStats().inUse).toBe(0);
  });

  it('bounds concurrent classify requests over the WebSocket (and they all complete)', async () => {
    const staticDir = path.join(dir, 'static');
    await mkdir(staticDir, { recursive: true });
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html>');
    let service: EngineService | undefined;
    const server = await ReslensServer.start({
      staticDir,
      root: dir,
      log: () => undefined,
      createService: (host) => (service = new EngineService({ host, modelsDir: path.join(dir, 'models'), initialModel: model, ep: 'cpu' })),
    });
    try {
      await service?.start();
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const reply = await fetch(`${server.origin}/api/upload?name=big${i}.png`, { method: 'POST', body: png, headers: { 'x-reslens-token': server.token } });
        ids.push(((await reply.json()) as { image: string }).image);
      }
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`);
      await new Promise((resolve) => ws.once('open', resolve));
      const answers = new Map<number, ServerMessage>();
      ws.on('message', (data) => {
        const message = decodeMessage(data as Buffer) as ServerMessage;
        if (message.kind === 'response') answers.set(message.id, message);
      });
      const round = async (first: number): Promise<ServerMessage[]> => {
        // Four requests at once, two images each.
        for (let r = 0; r < 4; r++)
          ws.send(encodeMessage({ kind: 'request', id: first + r, method: 'images.classify', params: { images: ids.slice(r * 2, r * 2 + 2) } }));
        while ([0, 1, 2, 3].some((r) => !answers.has(first + r))) await new Promise((resolve) => setTimeout(resolve, 50));
        return [0, 1, 2, 3].map((r) => answers.get(first + r) as ServerMessage);
      };

      // Without a binding budget the same requests do decode several images at once (so the check below can fail).
      setPixelBudget(DEFAULT_PIXEL_BUDGET);
      resetPixelBudgetPeak();
      await round(1);
      expect(pixelBudgetStats().peak).toBeGreaterThan(BUDGET);

      setPixelBudget(BUDGET);
      resetPixelBudgetPeak();
      const replies = await round(11);
      for (const reply of replies) {
        expect(reply).toMatchObject({ kind: 'response', ok: true });
        const results = (reply as { result: { result: { top?: unknown[] } }[] }).result;
        expect(results.every((r) => Array.isArray(r.result.top))).toBe(true);
      }
      expect(pixelBudgetStats().peak).toBeGreaterThan(0);
      expect(pixelBudgetStats().peak).toBeLessThanOrEqual(BUDGET);
      expect(pixelBudgetStats().inUse).toBe(0);
      ws.close();
    } finally {
      await server.close();
      await service?.dispose();
    }
  });

  it('bounds the batch pipeline’s worker threads with the same counter', async () => {
    const folder = path.join(dir, 'batch');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(folder, `b${i}.png`), png);
    const classifier = await Classifier.load({
      name: 'resnet18',
      modelPath: model,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: await loadLabels(),
      ep: 'cpu',
      stages: false,
    });
    try {
      setPixelBudget(BUDGET);
      resetPixelBudgetPeak();
      const job = await startBatch({
        inputs: [folder],
        classifier,
        out: path.join(dir, 'out', 'r.jsonl'),
        decodeConcurrency: 4,
        preprocessIn: 'workers',
        mode: 'exact',
      });
      const summary = await job.done;
      expect(summary.state).toBe('finished');
      expect(summary.count).toBe(6);
      expect(summary.failed).toBe(0);
      expect(summary.stats.preprocessIn).toBe('workers');
      // Workers count in the main thread's counter (a worker with its own counter would leave 0 here).
      expect(pixelBudgetStats().peak).toBeGreaterThan(0);
      expect(pixelBudgetStats().peak).toBeLessThanOrEqual(BUDGET);
    } finally {
      await classifier.dispose();
    }
  });
});
