// Issue 14: the soak test. The real browser-mode server (a child process, as `npm run serve` runs
// it) under mixed load for RESLENS_SOAK_SECONDS (default 45 s here; CI sets 180): uploads and their
// release, classify, feature maps, batches started, listed and cancelled, and pages that disconnect
// in the middle of a request. Its resident memory and open files must stay flat after warm-up, and
// after SIGTERM nothing of it may remain in the temp folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FolderListing, ServerMessage } from '../../src-main/api/contract.js';
import { RUN_DIR_PREFIX } from '../../src-main/engine/core/temp-dirs.js';
import { decodeMessage, encodeMessage } from '../../src-main/api/codec.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const SECONDS = Number(process.env.RESLENS_SOAK_SECONDS ?? 45);
let dir: string;
let photos: Buffer[];

interface Sample {
  at: number;
  rssMb: number;
  fds: number;
}

async function sample(pid: number, start: number): Promise<Sample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { at: (performance.now() - start) / 1000, rssMb: rssKb / 1024, fds: (await readdir(`/proc/${pid}/fd`)).length };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

class Page {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: ServerMessage) => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = decodeMessage(data as Buffer) as ServerMessage;
      if (message.kind === 'response') this.waiting.get(message.id)?.(message);
    });
  }
  static open(origin: string, token: string): Promise<Page> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/api/ws?token=${token}`);
      ws.once('open', () => resolve(new Page(ws)));
      ws.once('error', reject);
    });
  }
  call(method: string, params: unknown): Promise<ServerMessage> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(encodeMessage({ kind: 'request', id, method, params }));
    });
  }
  /** Sends and leaves at once (the page was closed mid-request). */
  fireAndLeave(method: string, params: unknown): void {
    this.ws.send(encodeMessage({ kind: 'request', id: this.nextId++, method, params }));
    this.ws.terminate();
  }
  close(): void {
    this.ws.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-soak-'));
  await mkdir(path.join(dir, 'root', 'album'), { recursive: true });
  await mkdir(path.join(dir, 'static'));
  await writeFile(path.join(dir, 'static', 'index.html'), '<!doctype html>');
  photos = await Promise.all([0, 1, 2, 3].map((i) => photoLike(640, 480, 'jpeg', i + 1)));
  for (let i = 0; i < 24; i++) await writeFile(path.join(dir, 'root', 'album', `a${i}.jpg`), photos[i % photos.length]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('soak', () => {
  it.skipIf(process.platform !== 'linux')(
    `browser mode under mixed load for ${SECONDS} s: RSS and open files flat, temp folder empty after stop`,
    { timeout: (SECONDS + 180) * 1000 },
    async () => {
      const model = await ensureFixture({ depth: 18, bn: 'folded' });
      const args = [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'src-main', 'server', 'main.ts'),
        '--model',
        model,
        '--ep',
        'cpu',
        '--port',
        '0',
        '--root',
        path.join(dir, 'root'),
        '--models-dir',
        path.join(dir, 'models'),
        '--static',
        path.join(dir, 'static'),
      ];
      const child: ChildProcess = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const pid = child.pid as number;
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout?.on('data', (d: Buffer) => {
            out += d.toString();
            const match = /ResLens running at (\S+)/.exec(out);
            if (match) resolve(match[1]);
          });
          child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
        });
        const { origin, searchParams } = new URL(url);
        const token = searchParams.get('token') ?? '';
        const headers = { 'x-reslens-token': token };
        const listing = (await (await fetch(`${origin}/api/folders`, { headers })).json()) as FolderListing;
        const album = listing.folders.find((f) => f.name === 'album')?.folder as string;

        const start = performance.now();
        const samples: Sample[] = [];
        let rounds = 0;
        let requests = 0;
        while ((performance.now() - start) / 1000 < SECONDS) {
          const page = await Page.open(origin, token);
          // Uploads: a few photos, classified, one opened in the feature view.
          const images: string[] = [];
          for (let i = 0; i < 3; i++) {
            const reply = await fetch(`${origin}/api/upload?name=p${i}.jpg`, { method: 'POST', body: photos[(rounds + i) % photos.length], headers });
            expect(reply.status).toBe(201);
            images.push(((await reply.json()) as { image: string }).image);
          }
          const classified = await page.call('images.classify', { images });
          expect(classified).toMatchObject({ ok: true });
          expect(await page.call('features.get', { image: images[0], channels: 4, classes: 3 })).toMatchObject({ ok: true });
          requests += 5;
          // A batch every other round: started, listed, cancelled (or finished).
          if (rounds % 2 === 0) {
            const started = await page.call('batch.start', { folder: album });
            if (started.kind === 'response' && started.ok) {
              const batch = (started.result as { batch: string }).batch;
              expect(await page.call('batch.list', {})).toMatchObject({ ok: true });
              await new Promise((r) => setTimeout(r, 300));
              expect(await page.call('batch.control', { batch, action: 'cancel' })).toMatchObject({ ok: true });
              requests += 3;
            }
          }
          // The page is closed: its uploads released, and a second page leaves mid-request.
          await fetch(`${origin}/api/upload?${images.map((i) => `image=${i}`).join('&')}`, { method: 'DELETE', headers });
          page.close();
          const leaving = await Page.open(origin, token);
          leaving.fireAndLeave('images.classify', { images });
          rounds++;
          samples.push(await sample(pid, start));
        }

        const warm = samples.filter((s) => s.at > SECONDS * 0.3);
        expect(warm.length).toBeGreaterThan(3);
        const early = warm.slice(0, Math.ceil(warm.length / 2));
        const late = warm.slice(Math.ceil(warm.length / 2));
        const rssGrowth = median(late.map((s) => s.rssMb)) - median(early.map((s) => s.rssMb));
        const fdGrowth = Math.max(...late.map((s) => s.fds)) - Math.max(...early.map((s) => s.fds));
        const summary = `soak: ${rounds} rounds, ${requests} requests in ${SECONDS} s; RSS ${median(early.map((s) => s.rssMb)).toFixed(0)} → ${median(late.map((s) => s.rssMb)).toFixed(0)} MB (Δ ${rssGrowth.toFixed(0)} MB), open files ${Math.max(...early.map((s) => s.fds))} → ${Math.max(...late.map((s) => s.fds))}; load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`;
        console.info(summary);
        // Flat: allocator noise and caches settle within a few tens of MB; a leak per round would not.
        expect(rssGrowth, summary).toBeLessThan(80);
        expect(fdGrowth, summary).toBeLessThanOrEqual(4);

        child.kill('SIGTERM');
        await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
        const left: string[] = [];
        for (const name of await readdir(os.tmpdir())) {
          if (!name.startsWith(RUN_DIR_PREFIX)) continue;
          const owner = await readFile(path.join(os.tmpdir(), name, '.reslens-owner'), 'utf8').catch(() => '');
          if (Number(owner.trim()) === pid) left.push(name);
        }
        expect(left).toEqual([]);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  );
});
