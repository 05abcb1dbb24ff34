// Playwright fixtures: one browser-mode server per worker (workers: 1, so one for the run), a page
// that has opened it, and helpers to drop files the way a user does.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Page, test as base, expect } from '@playwright/test';
import { ensureFixture } from '../fixtures/generate.js';
import { type RunningServer, SECOND_MODEL_NAME, SECOND_MODEL_SPEC, startServer } from './harness.js';

export interface DropFile {
  name: string;
  bytes: Buffer;
  type?: string;
}

export async function dropFiles(page: Page, files: DropFile[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.type ?? '', data: f.bytes.toString('base64') }));
  await page.evaluate((items) => {
    const transfer = new DataTransfer();
    for (const item of items) {
      const binary = atob(item.data);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      transfer.items.add(new File([bytes], item.name, { type: item.type }));
    }
    const target = document.querySelector('main') ?? document.body;
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, payload);
}

export async function fileFromDisk(file: string, name = path.basename(file)): Promise<DropFile> {
  return { name, bytes: await readFile(file) };
}

/** Collects Content-Security-Policy violations the page reports. */
export async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const list: string[] = [];
    (window as unknown as { __csp: string[] }).__csp = list;
    document.addEventListener('securitypolicyviolation', (e) => list.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  return () => page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
}

export const test = base.extend<{ app: Page }, { server: RunningServer }>({
  server: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from the pattern
    async ({}, use) => {
      const server = await startServer({ importModels: [{ file: await ensureFixture(SECOND_MODEL_SPEC), name: SECOND_MODEL_NAME }] });
      await use(server);
      await server.stop();
    },
    { scope: 'worker', timeout: 240_000 },
  ],
  app: async ({ page, server }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const violations = await watchCsp(page);
    // Each test starts with an empty Images view: the kept Images session (issue 15) of earlier tests on this server is forgotten.
    await rm(path.join(server.dataDir, 'sessions', 'images-session.json'), { force: true });
    await page.goto(server.url);
    await expect(page.getByTestId('status-model')).toBeVisible();
    await use(page);
    expect(errors, 'uncaught errors in the page').toEqual([]);
    expect(await violations(), 'Content-Security-Policy violations').toEqual([]);
  },
});

export { expect };

/** Pixels of a canvas: mean RGB, spread, and a coarse 16×16 signature for comparing drawings. */
export interface CanvasPixels {
  width: number;
  height: number;
  mean: [number, number, number];
  std: number;
  signature: number[];
}

export function readCanvas(page: Page, selector: string): Promise<CanvasPixels> {
  return page
    .locator(selector)
    .first()
    .evaluate((node) => {
      const canvas = node as HTMLCanvasElement;
      const context = canvas.getContext('2d');
      if (!context) throw new Error('no 2d context');
      const { width, height } = canvas;
      const data = context.getImageData(0, 0, width, height).data;
      const sum = [0, 0, 0];
      let sq = 0;
      const n = width * height;
      for (let i = 0; i < n; i++) {
        const l = (data[i * 4] + data[i * 4 + 1] + data[i * 4 + 2]) / 3;
        sum[0] += data[i * 4];
        sum[1] += data[i * 4 + 1];
        sum[2] += data[i * 4 + 2];
        sq += l * l;
      }
      const mean = [sum[0] / n, sum[1] / n, sum[2] / n] as [number, number, number];
      const lm = (mean[0] + mean[1] + mean[2]) / 3;
      const signature: number[] = [];
      for (let gy = 0; gy < 16; gy++) {
        for (let gx = 0; gx < 16; gx++) {
          const x = Math.min(width - 1, Math.floor(((gx + 0.5) * width) / 16));
          const y = Math.min(height - 1, Math.floor(((gy + 0.5) * height) / 16));
          const i = (y * width + x) * 4;
          signature.push((data[i] + data[i + 1] + data[i + 2]) / 3);
        }
      }
      return { width, height, mean, std: Math.sqrt(Math.max(0, sq / n - lm * lm)), signature };
    });
}

/** Mean absolute difference of two signatures (0 … 255). */
export const signatureDistance = (a: CanvasPixels, b: CanvasPixels): number =>
  a.signature.reduce((s, v, i) => s + Math.abs(v - b.signature[i]), 0) / a.signature.length;
