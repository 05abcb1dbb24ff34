// Batch mode in the browser: a folder on the serving machine (picked with the in-page folder
// browser under --root), progress, the results table, export; and the promise that interactive work
// is never stuck behind a long batch.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Page } from '@playwright/test';
import sharp from 'sharp';
import { photoLike } from '../helpers/bad-inputs.js';
import { dropFiles, expect, test } from './fixtures.js';

/** Opens the batch view, picks `folder` (a direct child of --root) and starts. False when this engine build has no batch support. */
async function startBatch(page: Page, folder: string): Promise<boolean> {
  await page.getByRole('tab', { name: /Batch/ }).click();
  await page.getByRole('button', { name: /Choose folder|Change/ }).click();
  const picker = page.getByTestId('folder-browser');
  await expect(picker).toBeVisible();
  await picker.locator(`[data-folder-name="${folder}"]`).click();
  await expect(picker.locator('.path')).toContainText(folder);
  await picker.getByTestId('choose-folder').click();
  await expect(picker).toBeHidden();
  await expect(page.getByTestId('batch-folder')).toContainText(folder);
  await page.getByRole('button', { name: 'Start batch' }).click();
  const started = page.getByTestId('batch-progress');
  const unavailable = page.getByTestId('batch-unavailable');
  await expect(started.or(unavailable)).toBeVisible();
  if (await unavailable.isVisible()) {
    test.info().annotations.push({ type: 'pending', description: `batch.* not in this engine build yet: ${await unavailable.innerText()}` });
    return false;
  }
  return true;
}

test('a small batch runs to completion, fills a sortable, filterable table and exports CSV', async ({ app, server }) => {
  const folder = path.join(server.root, 'small-batch');
  await mkdir(path.join(folder, 'nested'), { recursive: true });
  for (let i = 0; i < 11; i++)
    await writeFile(path.join(folder, i < 8 ? '' : 'nested', `photo-${String(i).padStart(2, '0')}.jpg`), await photoLike(160, 120, 'jpeg', i + 1));
  await writeFile(path.join(folder, 'notes.jpg'), 'not an image');
  const started = Date.now();
  // Wired up against the contract; skipped (reported as pending) until the service implements batch.*.
  test.skip(!(await startBatch(app, 'small-batch')), 'batch.* is not available in this engine build yet');

  const progress = app.getByTestId('batch-progress');
  await expect(progress).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  test.info().annotations.push({ type: 'timing', description: `12-file batch done in ${Date.now() - started} ms` });
  await expect(progress).toHaveAttribute('data-processed', '12');
  await expect(progress.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '12');
  await expect(app.getByTestId('batch-rate')).toContainText('img/s');

  const results = app.getByRole('table', { name: 'Batch results' });
  await expect(app.getByText('Showing 12 of 12')).toBeVisible();
  await expect(results.getByRole('row')).toHaveCount(13); // header + 12, all in view
  await expect(results).toContainText('nested');

  await app.getByRole('button', { name: 'Errors', exact: true }).click();
  await expect(app.getByText('Showing 1 of 12')).toBeVisible();
  await expect(results.getByRole('row').nth(1)).toContainText('NOT_AN_IMAGE');
  await app.getByRole('button', { name: 'All', exact: true }).click();

  await results.getByRole('button', { name: /Confidence/ }).click();
  await expect(results.getByRole('columnheader', { name: /Confidence/ })).toHaveAttribute('aria-sort', 'descending');
  await app.getByPlaceholder('Filter by file, class or error').fill('nested');
  await expect(app.getByText('Showing 3 of 12')).toBeVisible();
  await app.getByPlaceholder('Filter by file, class or error').fill('');

  await app.getByLabel('Export format').selectOption('csv');
  const [download] = await Promise.all([app.waitForEvent('download'), app.getByRole('button', { name: 'Export' }).click()]);
  expect(download.suggestedFilename()).toMatch(/\.csv$/);
  const csv = await readFile(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  expect(lines.length).toBe(13);
  expect(csv).toContain('notes.jpg');
  expect(csv).toContain('NOT_AN_IMAGE');

  // Organise into class folders: a new destination folder made in the picker, a dry run, then copies.
  await app.getByRole('button', { name: /Organise/ }).click();
  const dialog = app.getByRole('dialog', { name: 'Organise into class folders' });
  await dialog.getByRole('button', { name: /Choose/ }).click();
  const picker = app.getByTestId('folder-browser');
  await picker.getByRole('button', { name: 'Parent folder' }).click();
  await expect(picker.locator('[data-folder-name="small-batch"]')).toBeVisible();
  await picker.getByLabel('New folder name').fill('sorted');
  await picker.getByRole('button', { name: 'Create' }).click();
  await expect(picker.locator('.path')).toContainText('sorted');
  await picker.getByTestId('choose-folder').click();
  await expect(dialog).toContainText('sorted');
  await dialog.getByRole('slider').evaluate((input) => {
    (input as HTMLInputElement).value = '0';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  // The preview is the engine's organise planner as a dry run: its counts, per class folder and in
  // total, are exactly what Organise then does (and what lands on disk).
  const folderCounts = async () =>
    Object.fromEntries(
      await dialog
        .locator('.folders li')
        .evaluateAll((items) => items.map((li) => [li.getAttribute('data-folder'), Number(li.querySelector('.n')?.textContent?.replace(/\D/g, ''))])),
    );
  await dialog.getByRole('button', { name: 'Preview' }).click();
  await expect(dialog.getByRole('status')).toContainText('would be organised');
  await expect(dialog.getByRole('status')).toContainText('1 not classified'); // notes.jpg
  const planned = Number((await dialog.locator('[data-count="planned"]').textContent())?.replace(/\D/g, ''));
  const previewFolders = await folderCounts();
  expect(planned).toBeGreaterThan(0);
  expect(Object.values(previewFolders).reduce((a, b) => a + b, 0)).toBe(planned);
  await dialog.getByRole('button', { name: 'Organise', exact: true }).click();
  await expect(dialog.getByRole('status')).toContainText('organised into');
  const placed = Number((await dialog.locator('[data-count="placed"]').textContent())?.replace(/\D/g, ''));
  expect(placed).toBe(planned);
  expect(await folderCounts()).toEqual(previewFolders);
  await expect(dialog.locator('[data-count="failed"]')).toHaveCount(0);
  await dialog.screenshot({ path: test.info().outputPath('organise-result.png') });
  const sorted = await readdir(path.join(server.root, 'sorted'));
  const onDisk: Record<string, number> = {};
  for (const folder of sorted) onDisk[folder] = (await readdir(path.join(server.root, 'sorted', folder))).length;
  expect(onDisk).toEqual(previewFolders);
});

test('the UI never blocks: while a 1,000-image batch runs, a dropped image still returns its result', async ({ app, server }) => {
  test.setTimeout(300_000);
  const folder = path.join(server.root, 'thousand');
  await mkdir(folder, { recursive: true });
  const t0 = Date.now();
  for (let start = 0; start < 1000; start += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const i = start + k;
        return sharp({ create: { width: 64, height: 64, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } } })
          .jpeg({ quality: 80 })
          .toFile(path.join(folder, `img-${String(i).padStart(4, '0')}.jpg`));
      }),
    );
  }
  test.info().annotations.push({ type: 'setup', description: `1,000 JPEGs (64×64) written in ${Date.now() - t0} ms` });

  test.skip(!(await startBatch(app, 'thousand')), 'batch.* is not available in this engine build yet');
  const progress = app.getByTestId('batch-progress');
  await expect(progress).toHaveAttribute('data-state', 'running');
  await expect.poll(async () => Number(await progress.getAttribute('data-processed')), { timeout: 120_000 }).toBeGreaterThanOrEqual(20);

  // The page's main thread while rows stream in: the longest gap between animation frames.
  const frameGap = app.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let last = performance.now();
        let worst = 0;
        const end = last + 3000;
        const tick = (now: number) => {
          worst = Math.max(worst, now - last);
          last = now;
          if (now < end) requestAnimationFrame(tick);
          else resolve(worst);
        };
        requestAnimationFrame(tick);
      }),
  );

  const photo = { name: 'during-batch.jpg', bytes: await photoLike(640, 480, 'jpeg', 77) };
  const dropped = Date.now();
  await dropFiles(app, [photo]);
  const cardEl = app.locator(`article[data-name="${photo.name}"]`);
  await expect(cardEl).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  const latency = Date.now() - dropped;
  await expect(cardEl.getByRole('listitem')).toHaveCount(5);
  const worstFrame = await frameGap;

  await app.getByRole('tab', { name: /Batch/ }).click();
  const processed = Number(await progress.getAttribute('data-processed'));
  const state = await progress.getAttribute('data-state');
  const rate = await app.getByTestId('batch-rate').innerText();
  const line = `interactive latency during a 1,000-image batch: ${latency} ms from drop to top-5 (upload + thumbnail + classify); batch at ${processed}/1000 (${state}, ${rate}); longest frame gap ${Math.round(worstFrame)} ms`;
  console.log(line);
  test.info().annotations.push({ type: 'measurement', description: line });

  expect(state, 'the batch was still running when the dropped image came back').toBe('running');
  expect(latency).toBeLessThan(15_000);
  expect(worstFrame, 'no frozen window while rows stream in').toBeLessThan(1000);

  await app.getByRole('button', { name: 'Cancel' }).click();
  await expect(progress).toHaveAttribute('data-state', 'cancelled');
  // The table is virtualised: only the rows in view (plus a margin) are in the DOM.
  const shown = Number(await progress.getAttribute('data-processed'));
  if (shown > 100) expect(await app.getByRole('table', { name: 'Batch results' }).getByRole('row').count()).toBeLessThan(60);
});
