// Issue 15, points 1–2: the results gallery and kept sessions, in browser mode with the real engine.
// A batch finishes, its results open in the feature view from the gallery and from the table; a
// reload finds the run in History and reopens it; Resume classifies only new files, Retry failed the
// failed ones; a new batch over shown results asks first. Screenshots of the views at 1024×640,
// 1280×800 and 1920×1080, light and dark, go to test-results/screenshots/.
import { mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Page } from '@playwright/test';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { dropFiles, expect, test } from './fixtures.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const FIXED_TIME = new Date('2026-11-30T12:00:00Z');

test.describe.configure({ mode: 'serial' });

async function pickAndStart(page: Page, folder: string): Promise<void> {
  await page.getByRole('tab', { name: /Batch/ }).click();
  await page.getByRole('button', { name: /Choose folder|Change/ }).click();
  const picker = page.getByTestId('folder-browser');
  await expect(picker).toBeVisible();
  await picker.locator(`[data-folder-name="${folder}"]`).click();
  await expect(picker.locator('.path')).toContainText(folder);
  await picker.getByTestId('choose-folder').click();
  await expect(picker).toBeHidden();
  await page.getByRole('button', { name: 'Start batch' }).click();
}

async function waitDone(page: Page, processed: number): Promise<void> {
  const progress = page.getByTestId('batch-progress');
  await expect(progress).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(progress).toHaveAttribute('data-processed', String(processed));
}

/** A JPEG that cannot be decoded but has the same size as `good` (its headers zeroed after the magic bytes). */
function broken(good: Buffer): Buffer {
  const bad = Buffer.from(good);
  bad.fill(0, 4, bad.length - 2);
  return bad;
}

const journalOf = async (dataDir: string, batch: string) =>
  readFile(path.join(dataDir, 'sessions', 'runs', batch, `${batch}.jsonl.reslens-journal.jsonl`), 'utf8');
/** Runs of the journal that ran to their end (each session appends one "finished" line). */
const finishedRuns = async (dataDir: string, batch: string) => (await journalOf(dataDir, batch)).split('\n').filter((l) => l.startsWith('{"finished"')).length;
const recordsFor = (journal: string, name: string) =>
  journal.split('\n').filter((l) => l.includes(`"path":`) && l.includes(`/${name}"`) && l.includes('"result"')).length;

let folder: string;
let fixable: Buffer;

test('a finished batch opens in the gallery: grid, groups, histogram, review uncertain, feature view from a tile and a row', async ({ app, server }) => {
  folder = path.join(server.root, 'Gallery photos');
  await mkdir(path.join(folder, 'nested'), { recursive: true });
  for (let i = 0; i < 9; i++) await writeFile(path.join(folder, i < 7 ? '' : 'nested', `photo-${i}.jpg`), await photoLike(320, 240, 'jpeg', i + 21));
  fixable = await photoLike(320, 240, 'jpeg', 99);
  await writeFile(path.join(folder, 'fixable.jpg'), broken(fixable));
  await utimes(path.join(folder, 'fixable.jpg'), FIXED_TIME, FIXED_TIME);

  await pickAndStart(app, 'Gallery photos');
  await waitDone(app, 10);

  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Grid' }).click();
  const gallery = app.getByTestId('results-gallery');
  await expect(gallery).toBeVisible();
  const tiles = gallery.getByTestId('gallery-tile');
  await expect(tiles).toHaveCount(10);
  await expect(gallery.getByTestId('gallery-count')).toHaveText('10 of 10');
  // Thumbnails come from the engine (results.thumbnail) for tiles on screen, one per classified photo; the broken one has none.
  for (const tile of await tiles.all()) await tile.scrollIntoViewIfNeeded();
  await expect(gallery.locator('img')).toHaveCount(9, { timeout: 30_000 });
  const size = await gallery
    .locator('img')
    .first()
    .evaluate((img: HTMLImageElement) => Math.max(img.naturalWidth, img.naturalHeight));
  expect(size).toBeLessThanOrEqual(192);
  await expect(tiles.filter({ hasText: 'DECODE_FAILED' })).toHaveCount(1);

  // The histogram counts every classified photo once; the failed one is said apart.
  const histogram = app.getByTestId('confidence-histogram');
  const binCounts = await histogram
    .getByRole('button')
    .evaluateAll((bins) => bins.map((b) => Number(/: (\d+) image/.exec(b.getAttribute('aria-label') ?? '')?.[1] ?? 0)));
  expect(binCounts.reduce((a, b) => a + b, 0)).toBe(9);
  await expect(histogram).toContainText('1 failed');

  // Group by class: the group counts add up to the classified photos (+1 group for the failure).
  await gallery.getByRole('button', { name: 'Group by class' }).click();
  const groups = gallery.getByTestId('gallery-group');
  const counts = await groups.locator('h3 .chip').allInnerTexts();
  expect(counts.map(Number).reduce((a, b) => a + b, 0)).toBe(10);
  await gallery.getByRole('button', { name: 'All', exact: true }).click();

  // Review uncertain: lowest confidence first, failures left out.
  await gallery.getByTestId('review-uncertain').click();
  await expect(tiles).toHaveCount(9);
  const probs = (await gallery.locator('.prob').allInnerTexts()).map((t) => parseFloat(t));
  expect(probs).toEqual([...probs].sort((a, b) => a - b));
  await gallery.getByTestId('review-uncertain').click();

  // A tile opens its photo's feature view (the engine issued an image id for the result).
  const first = tiles.filter({ hasNotText: 'DECODE_FAILED' }).first();
  const label = await first.locator('.caption strong').innerText();
  await first.getByRole('button').first().click();
  const view = app.getByTestId('feature-view');
  await expect(view).toBeVisible();
  await expect(view.locator('#fv-title')).toHaveText(/photo-\d\.jpg/);
  await expect(view).toContainText(label);
  await expect(view.locator('canvas').first()).toBeVisible({ timeout: 60_000 });
  await app.keyboard.press('Escape');
  await expect(view).toBeHidden();

  // The table's rows open it too.
  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Table' }).click();
  await app.getByRole('button', { name: /Open nested\/photo-7\.jpg in the feature view/ }).click();
  await expect(view).toBeVisible();
  await expect(view.locator('#fv-title')).toHaveText('photo-7.jpg');
  await app.keyboard.press('Escape');
  // "Show in folder" is the desktop app's: not offered in the browser.
  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Grid' }).click();
  await expect(app.getByRole('button', { name: /in folder/ })).toHaveCount(0);
});

test('a reload finds the run in History and reopens its results; Resume adds only new files; Retry failed redoes the failed one', async ({ app, server }) => {
  await app.reload();
  await app.getByRole('tab', { name: /Batch/ }).click();
  const sessions = app.getByTestId('sessions');
  await expect(sessions).toBeVisible();
  const run = sessions.getByTestId('session').first();
  await expect(run).toContainText('Gallery photos');
  await expect(run).toHaveAttribute('data-state', 'done');
  await expect(run).toContainText('10 images');
  await expect(run).toContainText('1 failed');
  const batch = (await run.getAttribute('data-batch')) as string;

  await run.getByRole('button', { name: /^Open run/ }).click();
  await expect(app.getByTestId('batch-progress')).toHaveAttribute('data-processed', '10');
  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Table' }).click();
  await expect(app.getByText('Showing 10 of 10')).toBeVisible();

  // Resume / only new files: two new photos; the failed one is left alone (it has not changed).
  await writeFile(path.join(folder, 'new-1.jpg'), await photoLike(320, 240, 'jpeg', 61));
  await writeFile(path.join(folder, 'new-2.jpg'), await photoLike(320, 240, 'jpeg', 62));
  await run.getByRole('button', { name: /only new files/ }).click();
  await expect.poll(() => finishedRuns(server.dataDir, batch), { timeout: 120_000 }).toBe(2);
  await waitDone(app, 12);
  await expect(app.getByText('Showing 12 of 12')).toBeVisible();
  let journal = await journalOf(server.dataDir, batch);
  expect(recordsFor(journal, 'new-1.jpg')).toBe(1);
  expect(recordsFor(journal, 'photo-0.jpg')).toBe(1); // not classified again
  expect(recordsFor(journal, 'fixable.jpg')).toBe(1);
  await expect(run).toContainText('1 failed');

  // The user repairs the photo in place (same size, same time): only Retry failed looks at it again.
  await writeFile(path.join(folder, 'fixable.jpg'), fixable);
  await utimes(path.join(folder, 'fixable.jpg'), FIXED_TIME, FIXED_TIME);
  expect((await stat(path.join(folder, 'fixable.jpg'))).size).toBe(fixable.length);
  await run.getByRole('button', { name: /only new files/ }).click();
  await expect.poll(() => finishedRuns(server.dataDir, batch), { timeout: 120_000 }).toBe(3);
  await waitDone(app, 12);
  expect(recordsFor(await journalOf(server.dataDir, batch), 'fixable.jpg')).toBe(1);
  await run.getByRole('button', { name: /Retry failed/ }).click();
  await expect.poll(() => finishedRuns(server.dataDir, batch), { timeout: 120_000 }).toBe(4);
  await waitDone(app, 12);
  journal = await journalOf(server.dataDir, batch);
  expect(recordsFor(journal, 'fixable.jpg')).toBe(2);
  await expect(app.getByText('Showing 12 of 12')).toBeVisible(); // one row per file, the failure replaced
  await app.getByRole('button', { name: 'Errors', exact: true }).click();
  await expect(app.getByText('Showing 0 of 12')).toBeVisible();
  await app.getByRole('button', { name: 'All', exact: true }).click();
  await expect(run).not.toContainText('failed');
  await expect(run.getByRole('button', { name: /Retry failed/ })).toHaveCount(0);
});

test('starting a new batch over shown results asks first; Cancel keeps them, confirming starts and both runs are kept', async ({ app, server }) => {
  const other = path.join(server.root, 'Second folder');
  await mkdir(other, { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(path.join(other, `b-${i}.jpg`), await photoLike(200, 150, 'jpeg', i + 40));
  await app.getByRole('tab', { name: /Batch/ }).click();
  const sessions = app.getByTestId('sessions');
  await expect(sessions.getByTestId('session').first()).toBeVisible();
  // Counted, not assumed: runs of earlier specs on this worker's server are kept in History too.
  const kept = await sessions.getByTestId('session').count();
  await sessions
    .getByTestId('session')
    .first()
    .getByRole('button', { name: /^Open run/ })
    .click();
  await expect(app.getByTestId('batch-progress')).toHaveAttribute('data-processed', '12');

  await pickAndStart(app, 'Second folder');
  const confirm = app.getByTestId('confirm-dialog');
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText('Replace the results on screen?');
  await expect(confirm).toContainText('12 results');
  await shootAll(app, 'gallery-confirm');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toBeHidden();
  await expect(app.getByTestId('batch-progress')).toHaveAttribute('data-processed', '12');
  await expect(sessions.getByTestId('session')).toHaveCount(kept);

  await app.getByRole('button', { name: 'Start batch' }).click();
  await confirm.getByRole('button', { name: 'Start a new batch' }).click();
  await waitDone(app, 3);
  await expect(sessions.getByTestId('session')).toHaveCount(kept + 1);
  await expect(sessions.getByTestId('session').first()).toContainText('Second folder');
});

test('a damaged session list is set aside with a visible note, and the app keeps working', async ({ app, server }) => {
  const index = path.join(server.dataDir, 'sessions', 'sessions.json');
  await writeFile(index, '{"reslens":"session-index","version":1,"sessions":[{"id":"batch_../../../../etc","kind":"batch"}]}');
  await app.reload();
  await app.getByRole('tab', { name: /Batch/ }).click();
  const note = app.getByTestId('sessions-notice');
  await expect(note).toBeVisible();
  await expect(note).toContainText('damaged');
  const aside = (await readdir(path.join(server.dataDir, 'sessions'))).filter((f) => f.startsWith('sessions.json.corrupt-'));
  expect(aside).toHaveLength(1);
  await expect(app.getByTestId('session')).toHaveCount(0);
});

test('screenshots of the gallery and History', async ({ app, server }) => {
  test.setTimeout(240_000);
  await app.reload();
  await pickAndStart(app, 'Gallery photos');
  await waitDone(app, 12);
  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Grid' }).click();
  for (const tile of await app.getByTestId('gallery-tile').all()) await tile.scrollIntoViewIfNeeded();
  await expect(app.getByTestId('results-gallery').locator('img')).toHaveCount(12, { timeout: 30_000 });
  await app.getByTestId('results-gallery').scrollIntoViewIfNeeded();
  await shootAll(app, 'gallery-grid');
  await app.getByTestId('results-gallery').getByRole('button', { name: 'Group by class' }).click();
  await shootAll(app, 'gallery-grouped');
  await app.getByRole('group', { name: 'Results view' }).getByRole('button', { name: 'Table' }).click();
  await app.getByTestId('sessions').scrollIntoViewIfNeeded();
  await shootAll(app, 'gallery-history');
  void server;
});

async function shootAll(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  const original = page.viewportSize();
  for (const [width, height] of [
    [1024, 640],
    [1280, 800],
    [1920, 1080],
  ]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(200);
      await page.screenshot({ path: path.join(SHOTS, `${name}-${width}x${height}-${scheme}.png`), animations: 'disabled' });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (original) await page.setViewportSize(original);
}

test('the Images session is kept: a reload shows the cards again (results, thumbnails, feature view); Clear asks, then forgets them', async ({ app }) => {
  const photos = await Promise.all([1, 2].map(async (i) => ({ name: `kept-${i}.jpg`, bytes: await photoLike(480, 360, 'jpeg', 80 + i) })));
  await dropFiles(app, photos);
  for (const p of photos) await expect(app.locator(`article[data-name="${p.name}"]`)).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  const label = await app.locator(`article[data-name="kept-1.jpg"] .top li.first .label`).innerText();

  await app.reload();
  await expect(app.getByTestId('status-model')).toBeVisible();
  const card = app.locator('article[data-name="kept-1.jpg"]');
  await expect(card).toHaveAttribute('data-phase', 'done');
  await expect(app.locator('article[data-name="kept-2.jpg"]')).toHaveAttribute('data-phase', 'done');
  await expect(card.locator('.top li.first .label')).toHaveText(label);
  await expect(card.locator('img')).toBeVisible();
  // The gallery shows the same cards.
  await app.getByRole('group', { name: 'Images view' }).getByRole('button', { name: 'Gallery' }).click();
  await expect(app.getByTestId('results-gallery').getByTestId('gallery-tile')).toHaveCount(2);
  await expect(app.getByTestId('results-gallery').locator('img')).toHaveCount(2);
  await shootAll(app, 'gallery-images');
  await app.getByRole('group', { name: 'Images view' }).getByRole('button', { name: 'Cards' }).click();
  await card.click();
  await expect(app.getByTestId('feature-view')).toBeVisible();
  await expect(app.getByTestId('feature-view').locator('canvas').first()).toBeVisible({ timeout: 60_000 });
  await app.keyboard.press('Escape');

  await app.getByRole('button', { name: 'Clear' }).click();
  const confirm = app.getByTestId('confirm-dialog');
  await expect(confirm).toContainText('Clear 2 images?');
  await confirm.getByRole('button', { name: 'Clear' }).click();
  await expect(app.locator('article')).toHaveCount(0);
  await app.reload();
  await expect(app.getByTestId('status-model')).toBeVisible();
  await app.waitForTimeout(1000);
  await expect(app.locator('article')).toHaveCount(0);
});
