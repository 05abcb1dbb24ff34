// "Run on workers" in the Batch view: the browser-mode server started with --queue (a real
// redis-server on a free loopback port), one real `reslens worker` process, a folder classified on
// it; the view shows the per-worker table and the results name the worker.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from '@playwright/test';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { type Proc, startWorker, stopWorker } from '../helpers/queue-processes.js';
import { RedisServer, hasRedisServer } from '../helpers/redis.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { FIXTURE_MODEL_SPEC, type RunningServer, startServer, openFresh } from './harness.js';

test.skip(!hasRedisServer, 'needs Debian redis-server (installed by .ci/run)');

let redis: RedisServer;
let server: RunningServer;
let worker: Proc;

test.beforeAll(async () => {
  test.setTimeout(300_000);
  redis = await RedisServer.start({ appendOnly: true });
  server = await startServer({ args: ['--queue', redis.url] });
  worker = await startWorker(redis.url, ['--model', await ensureFixture(FIXTURE_MODEL_SPEC), '--allow-root', server.root]);
});

test.afterAll(async () => {
  if (worker) await stopWorker(worker);
  await server?.stop();
  await redis?.close();
});

test('a folder runs on a queue worker: per-worker table, rows and export name the worker', async ({ page }) => {
  test.setTimeout(240_000);
  const folder = path.join(server.root, 'queue-batch');
  await mkdir(folder, { recursive: true });
  for (let i = 0; i < 6; i++) await writeFile(path.join(folder, `photo-${i}.jpg`), await photoLike(160, 120, 'jpeg', i + 3));
  await writeFile(path.join(folder, 'broken.jpg'), 'not an image');

  await openFresh(page, server);
  await expect(page.getByTestId('status-model')).toBeVisible();
  await page.getByRole('tab', { name: /Batch/ }).click();
  const onWorkers = page.getByTestId('batch-on-workers');
  await expect(onWorkers).toBeVisible();
  await onWorkers.check();
  await page.getByRole('button', { name: /Choose folder|Change/ }).click();
  const picker = page.getByTestId('folder-browser');
  await picker.locator('[data-folder-name="queue-batch"]').click();
  await picker.getByTestId('choose-folder').click();
  await page.getByRole('button', { name: 'Start batch' }).click();

  const progress = page.getByTestId('batch-progress');
  await expect(progress).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(progress).toHaveAttribute('data-processed', '7');
  const workers = page.getByTestId('batch-workers');
  await expect(workers).toBeVisible();
  const row = page.getByTestId('batch-worker');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(`:${worker.child.pid}`);
  await expect(row.locator('td').nth(1)).toHaveText('7');
  await expect(row.locator('td').nth(2)).toHaveText('1');
  await expect(page.getByText('Showing 7 of 7')).toBeVisible();
  await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'screenshots', 'batch-on-workers.png'), animations: 'disabled' });

  // The CSV export names the worker of every row.
  await page.getByLabel('Export format').selectOption('csv');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
  const text = await readFile(await download.path(), 'utf8');
  const [header, ...lines] = text.trim().split(/\r?\n/);
  expect(header.split(',').at(-1)).toBe('worker');
  expect(lines).toHaveLength(7);
  for (const line of lines) expect(line).toContain(`:${worker.child.pid}`);
});

test('without a queue the choice is not offered', async ({ page }) => {
  const plain = await startServer();
  try {
    await openFresh(page, plain);
    await expect(page.getByTestId('status-model')).toBeVisible();
    await page.getByRole('tab', { name: /Batch/ }).click();
    await expect(page.getByRole('button', { name: 'Start batch' })).toBeVisible();
    await expect(page.getByTestId('batch-on-workers')).toHaveCount(0);
  } finally {
    await plain.stop();
  }
});
