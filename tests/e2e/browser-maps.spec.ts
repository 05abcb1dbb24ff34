// Maps (issue 15, points 3–5), in browser mode with the real server and engine: compare two models
// (ResNet-50 v1 — the reference with real ImageNet weights when ../shared/testdata is present — beside a
// generated ResNet-50 v2) and two photos; zoom, pan and the value readout with the receptive field;
// the paged channel grid; Save PNG; the HTML report (parsed); Model-table rows opening a stage; the
// CAM and channel-field fixes. Stage-switch times go to the test output and test-results/maps-timing.json.
// Screenshots of the views at 1024×640, 1280×800, 1920×1080, light and dark, in test-results/screenshots/.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Page } from '@playwright/test';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { ensureFixture } from '../fixtures/generate.js';
import { type DropFile, dropFiles, expect, fileFromDisk, readCanvas, signatureDistance, test, watchCsp } from './fixtures.js';
import { type RunningServer, startServer, openFresh } from './harness.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const V2_NAME = 'resnet50-v2-generated';
let server: RunningServer;
let photos: DropFile[];

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(300_000);
  const v2 = await ensureFixture({ depth: 50, variant: 'v2', bn: 'explicit' });
  const model = hasTestdata ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' });
  server = await startServer({ model, importModels: [{ file: v2, name: V2_NAME }] });
  if (hasTestdata) {
    const dir = path.join(TESTDATA, 'images');
    const names = (await readdir(dir)).filter((f) => /^(kite|elephants)/.test(f)).sort();
    photos = await Promise.all(names.map((f) => fileFromDisk(path.join(dir, f))));
  } else {
    photos = await Promise.all([1, 2].map(async (i) => ({ name: `photo-${i}.jpg`, bytes: await photoLike(640, 480, 'jpeg', i) })));
  }
});

test.afterAll(async () => {
  await server?.stop();
});

async function openApp(page: Page): Promise<() => Promise<void>> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const violations = await watchCsp(page);
  await openFresh(page, server);
  await expect(page.getByTestId('status-model')).toBeVisible();
  await dropFiles(page, photos);
  await expect(page.locator('article[data-phase="done"]')).toHaveCount(photos.length, { timeout: 120_000 });
  return async () => {
    expect(errors, 'uncaught errors in the page').toEqual([]);
    expect(await violations(), 'Content-Security-Policy violations').toEqual([]);
  };
}

async function openFeatures(page: Page, name = photos[0].name) {
  await page.locator(`article[data-name="${name}"]`).click();
  const view = page.getByTestId('feature-view');
  await expect(view.locator('[data-stage="layer4"]')).toBeVisible({ timeout: 90_000 });
  return view;
}

test('compare: two models side by side on one photo, stages in step, top-5 differences marked; then two photos', async ({ page }) => {
  test.setTimeout(240_000);
  const done = await openApp(page);
  const view = await openFeatures(page);
  const loadedModel = await page.getByTestId('status-model').innerText();
  await view.locator('[data-pane="compare"]').click();
  await view.locator('#compare-with').selectOption(`model:${V2_NAME}`);
  const left = view.getByTestId('compare-left');
  const right = view.getByTestId('compare-right');
  await expect(right).toBeVisible({ timeout: 90_000 });
  await expect(left.locator('.top5 li')).toHaveCount(5);
  await expect(right.locator('.top5 li')).toHaveCount(5);
  // Every row says how it differs; the summary counts the classes only one side has.
  const diffs = await right.locator('.top5 li').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-diff')));
  for (const d of diffs) expect(['only', 'moved', 'same']).toContain(d);
  const onlyRight = diffs.filter((d) => d === 'only').length;
  const onlyLeft = await left.locator('.top5 li[data-diff="only"]').count();
  expect(onlyLeft).toBe(onlyRight);
  await expect(view.getByTestId('compare-summary')).toContainText(`${onlyLeft} of 5 classes are in one top-5 only`);
  // The two models see the photo differently: their maps differ.
  await expect(right.locator('canvas[data-testid="compare-right-map"]')).toBeVisible();
  const before = await readCanvas(page, '[data-testid="compare-right-map"]');
  // In step: a stage chosen on the right moves the left too (and the view's stage tabs).
  await right.getByTestId('compare-right-stage').selectOption('layer2');
  await expect(left.getByTestId('compare-left-stage')).toHaveValue('layer2');
  await expect(view.locator('[data-stage="layer2"]')).toHaveAttribute('aria-selected', 'true');
  await left.getByTestId('compare-left-stage').selectOption('stem');
  await expect(right.getByTestId('compare-right-stage')).toHaveValue('stem');
  const after = await readCanvas(page, '[data-testid="compare-right-map"]');
  expect(signatureDistance(before, after), 'the right map changed with the stage').toBeGreaterThan(1);
  // The loaded model was not dropped for the second one: still in use, and its channel maps still load.
  await expect(page.getByTestId('status-model')).toHaveText(loadedModel);
  await view.locator('[data-pane="map"]').click();
  await view.locator('.channels [data-channel]').first().click();
  await expect(view.getByTestId('map-caption')).toContainText('channel');
  await view.locator('[data-pane="compare"]').click();
  await expect(right.locator('.top5 li')).toHaveCount(5);
  await shootAll(page, 'maps-compare-models');

  // Two photos at the same stage, same model.
  await view.locator('[data-pane="compare"]').click();
  await view.locator('#compare-with').selectOption({ label: photos[1].name });
  await expect(right.locator('.side-title')).toContainText(photos[1].name, { timeout: 90_000 });
  await expect(right.locator('.side-title')).not.toContainText(photos[0].name);
  await expect(right.getByTestId('compare-right-stage')).toHaveValue(await left.getByTestId('compare-left-stage').inputValue());
  await shootAll(page, 'maps-compare');
  await done();
});

test('zoom, pan and the value readout with the receptive field; colour bar numbers; Save PNG; stage-switch time', async ({ page }) => {
  test.setTimeout(240_000);
  const done = await openApp(page);
  const view = await openFeatures(page);
  const box = view.getByTestId('heatmap-main-box');
  // Transparency follows the value by default (the photo stays visible under low values).
  await expect(view.locator('select').filter({ has: page.locator('option[value="value"]') })).toHaveValue('value');

  // Keyboard zoom: + − 0.
  await box.focus();
  await page.keyboard.press('+');
  await expect(box).toHaveAttribute('data-zoom', '1.50');
  await page.keyboard.press('+');
  await expect(box).toHaveAttribute('data-zoom', '2.25');
  await page.keyboard.press('-');
  await expect(box).toHaveAttribute('data-zoom', '1.50');
  await page.keyboard.press('0');
  await expect(box).toHaveAttribute('data-zoom', '1.00');
  // Wheel zoom at a point, then drag to pan: the drawing moves.
  const rect = await box.boundingBox();
  if (!rect) throw new Error('no map box');
  await page.mouse.move(rect.x + rect.width * 0.3, rect.y + rect.height * 0.3);
  await page.mouse.wheel(0, -600);
  expect(Number(await box.getAttribute('data-zoom'))).toBeGreaterThan(1.5);
  const zoomed = await readCanvas(page, '[data-testid="heatmap-main"]');
  await page.mouse.down();
  await page.mouse.move(rect.x + rect.width * 0.6, rect.y + rect.height * 0.6, { steps: 5 });
  await page.mouse.up();
  const panned = await readCanvas(page, '[data-testid="heatmap-main"]');
  expect(signatureDistance(zoomed, panned), 'dragging pans the zoomed map').toBeGreaterThan(1);
  await page.keyboard.press('0');

  // Readout: the stem (11 px field) in the middle of the map sees 11×11 px, unclipped.
  await view.locator('[data-stage="stem"]').click();
  await box.hover({ position: { x: rect.width / 2, y: rect.height / 2 } });
  const readout = view.getByTestId('heatmap-main-readout');
  await expect(readout).toContainText('value');
  await expect(readout).toContainText('of conv1');
  await expect(readout).toContainText('sees 11×11 px of the photo');
  await expect(readout).not.toContainText('past the edge');
  // conv5_x at a corner: its 427 px field is clipped by the 224 px input.
  await view.locator('[data-stage="layer4"]').click();
  await box.hover({ position: { x: 14, y: 14 } });
  await expect(readout).toContainText(/sees \d+×\d+ px of the photo \(field reaches past the edge\)/);
  const value = Number(/value ([\d.]+)/.exec(await readout.innerText())?.[1]);
  expect(value).toBeGreaterThanOrEqual(0);
  expect(value).toBeLessThanOrEqual(1);
  // The colour bar carries the map's own numbers, and says how it is normalised.
  const ticks = await view.getByTestId('colorbar').locator('[data-tick]').allInnerTexts();
  expect(ticks).toHaveLength(5);
  expect(ticks.map(Number).every(Number.isFinite)).toBe(true);
  expect(Number(ticks[4])).toBeGreaterThan(Number(ticks[0]));
  await expect(view.getByTestId('colorbar')).toContainText('scaled per map');
  await expect(view.getByTestId('colorbar')).toContainText('Opacity follows the value');

  // Save PNG: a real PNG of what is shown.
  const download = page.waitForEvent('download');
  await view.getByRole('button', { name: 'Save PNG' }).click();
  const file = await (await download).path();
  const png = await readFile(file);
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(png.length).toBeGreaterThan(1000);

  // Stage switching: the first round colours each stage's map, later rounds draw cached canvases.
  // Two numbers per switch: until Svelte has updated the page and drawn the map (script: the part the
  // app controls), and until the next frame is painted (adds style, layout and software raster).
  const times = await page.evaluate(async () => {
    const names = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'];
    const out: { stage: string; round: number; drawnMs: number; frameMs: number }[] = [];
    const frame = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    for (let round = 1; round <= 3; round++) {
      for (const name of names) {
        const tab = document.querySelector<HTMLButtonElement>(`[data-testid="feature-view"] [data-stage="${name}"]`);
        if (!tab) throw new Error(`no tab ${name}`);
        await frame();
        const start = performance.now();
        tab.click();
        await frame();
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="heatmap-main"]');
        const drawn = Number(canvas?.dataset.drawnAt ?? Number.NaN);
        if (!(drawn >= start)) throw new Error(`the map was not redrawn for ${name}`);
        out.push({ stage: name, round, drawnMs: drawn - start, frameMs: performance.now() - start });
      }
    }
    return out;
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const cachedRounds = times.filter((t) => t.round > 1);
  const summary = {
    firstRound: {
      drawnMedianMs: r1(median(times.filter((t) => t.round === 1).map((t) => t.drawnMs))),
      frameMedianMs: r1(median(times.filter((t) => t.round === 1).map((t) => t.frameMs))),
    },
    cached: {
      drawnMedianMs: r1(median(cachedRounds.map((t) => t.drawnMs))),
      drawnMaxMs: r1(Math.max(...cachedRounds.map((t) => t.drawnMs))),
      frameMedianMs: r1(median(cachedRounds.map((t) => t.frameMs))),
    },
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    cores: os.cpus().length,
    note: 'drawn: click → page updated and map drawn (script); frame: click → next frame painted (rAF + task; headless Chromium, software rendering)',
    times,
  };
  const line = `stage switch (cached canvases): ${summary.cached.drawnMedianMs} ms to drawn, ${summary.cached.frameMedianMs} ms to the next frame (medians); first visit ${summary.firstRound.drawnMedianMs} / ${summary.firstRound.frameMedianMs} ms; load average ${summary.loadAverage.join(' ')} on ${summary.cores} cores`;
  test.info().annotations.push({ type: 'timing', description: line });
  console.log(line);
  await mkdir(path.join(REPO_ROOT, 'test-results'), { recursive: true });
  await writeFile(path.join(REPO_ROOT, 'test-results', 'maps-timing.json'), `${JSON.stringify(summary, null, 2)}\n`);

  // Screenshot with a readout showing (zoomed, hovered): conv2_x, whose 35 px field shows as a box.
  await view.locator('[data-stage="layer1"]').click();
  await box.focus();
  await page.keyboard.press('+');
  await shootAll(page, 'maps-zoom', async () => {
    const now = await box.boundingBox();
    await box.hover({ position: { x: (now?.width ?? 200) * 0.55, y: (now?.height ?? 200) * 0.45 } });
    await expect(readout).toContainText('sees');
  });
  await done();
});

test('channel grid: every channel of the stage, most active first, a page at a time; a tile opens its channel', async ({ page }) => {
  test.setTimeout(180_000);
  const done = await openApp(page);
  const view = await openFeatures(page);
  await view.locator('[data-stage="layer3"]').click();
  await view.locator('[data-pane="grid"]').click();
  const grid = view.getByTestId('channel-grid');
  const tiles = grid.locator('.tile');
  await expect(tiles).toHaveCount(48);
  await expect(grid.getByTestId('channel-page')).toHaveText('Page 1 of 22'); // 1024 channels / 48
  await expect(grid.locator('.tile canvas')).toHaveCount(48, { timeout: 60_000 });
  const means = async () => (await tiles.locator('.tile-text .dim').allInnerTexts()).map(Number);
  const page1 = await means();
  for (let i = 1; i < page1.length; i++) expect(page1[i]).toBeLessThanOrEqual(page1[i - 1]);
  // The most active channel heads the grid, as in the top-channels list.
  const topChannel = await view.locator('.channels [data-channel]').first().getAttribute('data-channel');
  await expect(tiles.first()).toHaveAttribute('data-channel', topChannel ?? '');
  await grid.getByRole('button', { name: 'Next page' }).click();
  await expect(grid.getByTestId('channel-page')).toHaveText('Page 2 of 22');
  const page2 = await means();
  expect(page2[0]).toBeLessThanOrEqual(page1[page1.length - 1]);
  await expect(grid.locator('.tile canvas')).toHaveCount(48, { timeout: 60_000 });
  await shootAll(page, 'maps-grid');
  const channel = await tiles.nth(3).getAttribute('data-channel');
  await tiles.nth(3).click();
  await expect(view.getByTestId('map-caption')).toContainText(`channel ${channel} of 1024`);
  await done();
});

test('export report: one HTML file with the top-5, one image per stage, the CAMs, and no script', async ({ page }) => {
  test.setTimeout(180_000);
  const done = await openApp(page);
  const view = await openFeatures(page);
  const labels = await view.locator('.cams .cam strong').allInnerTexts();
  expect(labels).toHaveLength(5);
  const download = page.waitForEvent('download');
  await view.getByTestId('export-report').click();
  const saved = await download;
  expect(saved.suggestedFilename()).toMatch(/-report\.html$/);
  const html = await readFile(await saved.path(), 'utf8');
  // Opened as a page of its own (as a user opens the file), then read: the app page's CSP stays out of it.
  const reader = await page.context().newPage();
  const requests: string[] = [];
  reader.on('request', (r) => requests.push(r.url()));
  await reader.setContent(html);
  const parsed = await reader.evaluate(() => {
    const doc = document;
    return {
      scripts: doc.querySelectorAll('script').length,
      handlers: [...doc.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      top: [...doc.querySelectorAll('table.top5 td.label')].map((td) => td.textContent ?? ''),
      stages: [...doc.querySelectorAll('figure.stage')].map((f) => ({ stage: f.getAttribute('data-stage'), images: f.querySelectorAll('img').length })),
      cams: doc.querySelectorAll('figure.cam img').length,
      externalImages: [...doc.querySelectorAll('img')].filter((img) => !img.getAttribute('src')?.startsWith('data:image/')).length,
      brokenImages: [...doc.querySelectorAll('img')].filter((img) => !img.complete || img.naturalWidth === 0).length,
      csp: doc.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
    };
  });
  await reader.close();
  expect(
    requests.filter((u) => !u.startsWith('data:') && u !== 'about:blank'),
    'the report fetched nothing',
  ).toEqual([]);
  expect(parsed.brokenImages).toBe(0);
  expect(parsed.scripts).toBe(0);
  expect(parsed.handlers).toBe(0);
  expect(parsed.top).toEqual(labels);
  expect(parsed.stages).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4'].map((stage) => ({ stage, images: 1 })));
  expect(parsed.cams).toBe(5);
  expect(parsed.externalImages).toBe(0);
  expect(parsed.csp).toContain("default-src 'none'");
  await done();
});

test('explain in place: Model-table rows open their stage; stage notes and tooltips; a CAM lights no stage tab; the channel field empties for a new photo', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const done = await openApp(page);
  let view = await openFeatures(page);
  // Stage info: resolution, receptive field, the note, a tooltip on every statistic.
  await view.locator('[data-stage="layer2"]').click();
  const info = view.getByTestId('stage-info');
  await expect(info.locator('[data-stat="Resolution"] dd')).toHaveText('28×28');
  await expect(info.locator('[data-stat="Receptive field"] dd')).toHaveText('91 px');
  await expect(info.getByTestId('stage-note')).toContainText('conv3_x');
  for (const stat of await info.locator('[data-stat]').all()) expect((await stat.getAttribute('title'))?.length ?? 0).toBeGreaterThan(20);
  // A CAM is not a stage: no tab stays selected, and the side shows the CAM's numbers.
  await view.locator('[data-cam="0"]').click();
  await expect(view.locator('[role="tab"][aria-selected="true"]')).toHaveCount(0);
  await expect(view.getByTestId('cam-info')).toBeVisible();
  await expect(view.getByTestId('stage-info')).toHaveCount(0);
  await view.locator('[data-stage="layer3"]').click();
  await expect(view.locator('[data-stage="layer3"]')).toHaveAttribute('aria-selected', 'true');
  // The channel field does not carry over to another photo.
  await view.locator('#channel-number').fill('7');
  await page.keyboard.press('Escape');
  await expect(view).toBeHidden();
  view = await openFeatures(page, photos[1].name);
  await expect(view.locator('#channel-number')).toHaveValue('');
  await page.keyboard.press('Escape');

  // The Model table: a row opens that stage of the last photo, and shows each stage's receptive field.
  await page.locator('#tab-model').click();
  const row = page.locator('tr[data-row="layer2"]');
  await expect(row).toContainText('91 px');
  await expect(row).toHaveAttribute('title', /conv3_x/);
  await row.getByRole('button', { name: /Open conv3_x/ }).click();
  view = page.getByTestId('feature-view');
  await expect(view.locator('[data-stage="layer2"]')).toHaveAttribute('aria-selected', 'true', { timeout: 90_000 });
  await expect(view.locator('#fv-title')).toHaveText(photos[1].name);
  await done();
});

/** Screenshots at three sizes, light and dark; `prepare` runs after each resize (e.g. to hover the map again). */
async function shootAll(page: Page, name: string, prepare?: () => Promise<void>): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  for (const viewport of [
    { width: 1024, height: 640 },
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    await page.setViewportSize(viewport);
    await prepare?.();
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(200);
      await page.screenshot({ path: path.join(SHOTS, `${name}-${viewport.width}x${viewport.height}-${scheme}.png`), animations: 'disabled' });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
}
