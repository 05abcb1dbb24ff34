// Class-specific explanations in the browser: open an image's feature view, switch to "Explain a
// class", pick methods and classes (from the top-5 and the search over every label), see the stage
// row update, measure faithfulness, save the shown overlay. Screenshots of every method go to
// test-results/screenshots/explain-*.png. Uses the reference ResNet-50 when ../shared/testdata is
// present (its labels are ImageNet's), the ResNet-18 fixture otherwise.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { type DropFile, dropFiles, expect, fileFromDisk, test, watchCsp } from './fixtures.js';
import { type RunningServer, startServer, openFresh } from './harness.js';

const OUT = path.join(REPO_ROOT, 'test-results', 'screenshots');
const METHODS = [
  'gradcam',
  'gradcam++',
  'xgradcam',
  'layercam',
  'hirescam',
  'eigencam',
  'saliency',
  'guided-backprop',
  'guided-gradcam',
  'integrated-gradients',
  'smoothgrad',
];
let server: RunningServer;
let photo: DropFile;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(300_000);
  server = await startServer(hasTestdata ? { model: REFERENCE_MODEL } : {});
  await mkdir(OUT, { recursive: true });
  photo = hasTestdata
    ? await fileFromDisk(path.join(TESTDATA, 'images', 'kite_by_Risto_Saukonpaa.jpg'))
    : { name: 'photo.jpg', bytes: await photoLike(640, 480, 'jpeg', 3) };
});

test.afterAll(async () => {
  await server?.stop();
});

test('pick a method and a class from the searchable box; the stage row updates; faithfulness and Save PNG', async ({ browser }) => {
  test.setTimeout(600_000);
  const context = await browser.newContext({ viewport: { width: 1440, height: 960 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const violations = await watchCsp(page);
  await openFresh(page, server);
  await dropFiles(page, [photo]);
  await expect(page.locator('article[data-phase="done"]')).toHaveCount(1, { timeout: 120_000 });
  await page.locator(`article[data-name="${photo.name}"]`).click();
  const view = page.getByTestId('feature-view');
  await expect(view.locator('[data-stage="layer4"]')).toBeVisible({ timeout: 60_000 });
  await view.getByTestId('explain-toggle').click();

  const panel = view.getByTestId('explain-panel');
  const row = panel.getByTestId('explain-row');
  // The top-1 by default, Grad-CAM at all five stages.
  await expect(row).toHaveAttribute('data-method', 'gradcam', { timeout: 120_000 });
  await expect(panel.getByTestId('explain-stage')).toHaveCount(5);
  const top1 = await row.getAttribute('data-class');
  await expect(panel.getByTestId('explain-top-class')).toHaveCount(5);
  await expect(panel.getByTestId('explain-top-class').first()).toHaveAttribute('data-class', top1 ?? '');

  // A class from the search over every label (not in the top-5).
  const search = panel.getByTestId('explain-class-search');
  await search.fill(hasTestdata ? 'impala' : 'class 352');
  const option = panel.locator('[data-testid="explain-class-option"][data-class="352"]');
  await expect(option).toBeVisible();
  const before = await panel.getByTestId('explain-main').screenshot();
  await option.click();
  await expect(row).toHaveAttribute('data-class', '352', { timeout: 120_000 });
  // Whether or not 352 is among the top-5 chips, no other chip stays pressed.
  await expect(panel.locator('[data-testid="explain-top-class"][aria-pressed="true"]:not([data-class="352"])')).toHaveCount(0);
  await expect(panel.locator('.busy')).toHaveCount(0, { timeout: 120_000 });
  const after = await panel.getByTestId('explain-main').screenshot();
  expect(after.equals(before), 'the map changes with the class').toBe(false);
  await page.screenshot({ path: path.join(OUT, 'explain-class-352.png') });

  // Each method: the row (or the input view) repaints for the same class. Repaint times (the
  // change to the maps shown, measured in the page) go to test-results/explain-repaint.json: the
  // stage methods and the gradient-based input methods come from the engine's cache of this class's
  // gradient run, so no new run is made.
  const method = panel.getByTestId('explain-method');
  const timing = panel.getByTestId('explain-timing');
  // Two clocks: `ms` is this test's wall time (it includes Playwright's round trips and its polling
  // steps of 100–1000 ms); `pageMs` is the page's own, from the request to the answer (data-ms).
  const repaints: { change: string; ms: number; pageMs: number; fromCache: boolean }[] = [];
  const timed = async (change: string, act: () => Promise<void>, done: () => Promise<void>): Promise<void> => {
    const start = Date.now();
    await act();
    await done();
    await expect(panel.locator('.busy')).toHaveCount(0, { timeout: 240_000 });
    repaints.push({
      change,
      ms: Date.now() - start,
      pageMs: Number(await timing.getAttribute('data-ms')),
      fromCache: (await timing.getAttribute('data-from-cache')) === 'true',
    });
  };
  for (const m of METHODS) {
    // (Grad-CAM is already shown: choosing it again changes nothing.)
    if (m !== 'gradcam')
      await timed(
        `method ${m}`,
        () => method.selectOption(m),
        async () => {
          if (m === 'integrated-gradients') {
            await expect(panel.getByTestId('explain-progress')).toBeVisible({ timeout: 120_000 });
            await page.screenshot({ path: path.join(OUT, 'explain-progress.png') });
          }
          await expect(row).toHaveAttribute('data-method', m, { timeout: 240_000 });
        },
      );
    await expect(row).toHaveAttribute('data-class', '352');
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(OUT, `explain-${m}.png`) });
  }
  // All but the first guided-backprop pass (its own run: the guided switch) and the multi-run methods.
  for (const r of repaints) expect(r.fromCache, `${r.change}: from the cached gradients?`).toBe(!/integrated|smoothgrad|guided-backprop/.test(r.change));

  // A class change: a new one needs one gradient run, one shown before comes from the cache.
  await method.selectOption('gradcam');
  await expect(row).toHaveAttribute('data-method', 'gradcam');
  await expect(panel.locator('.busy')).toHaveCount(0, { timeout: 120_000 });
  const other = panel.locator('[data-testid="explain-top-class"]:not([data-class="352"])').nth(1);
  const otherClass = (await other.getAttribute('data-class')) ?? '';
  await timed(
    `class ${otherClass} (new)`,
    () => other.click(),
    () => expect(row).toHaveAttribute('data-class', otherClass, { timeout: 120_000 }),
  );
  expect(repaints.at(-1)?.fromCache).toBe(false);
  const chip352 = panel.locator('[data-testid="explain-top-class"][data-class="352"]');
  await timed(
    'class 352 (shown before)',
    async () => {
      if ((await chip352.count()) > 0) await chip352.click();
      else {
        await search.fill(hasTestdata ? 'impala' : 'class 352');
        await panel.locator('[data-testid="explain-class-option"][data-class="352"]').click();
      }
    },
    () => expect(row).toHaveAttribute('data-class', '352', { timeout: 120_000 }),
  );
  expect(repaints.at(-1)?.fromCache).toBe(true);
  await writeFile(
    path.join(REPO_ROOT, 'test-results', 'explain-repaint.json'),
    `${JSON.stringify({ when: new Date().toISOString(), model: hasTestdata ? 'reference resnet50' : 'resnet18 fixture', loadAverage: os.loadavg(), repaints }, null, 2)}\n`,
  );
  console.log(
    repaints.map((r) => `${r.change}: ${r.pageMs} ms in the page, ${r.ms} ms as the test saw it${r.fromCache ? ' (from the cache)' : ''}`).join('\n'),
  );

  // Integrated gradients show their progress and can be cancelled: the previous maps come back.
  await timed(
    'method integrated-gradients (cancelled)',
    () => method.selectOption('integrated-gradients'),
    async () => {
      const progress = panel.getByTestId('explain-progress');
      await expect(progress).toBeVisible({ timeout: 120_000 });
      await expect(progress).toContainText(/Computing Integrated gradients: \d+\/16 path points/);
      // At once, without waiting for stability: a full-page screenshot first (CI: ~2 s on the loaded
      // machine) let the 4–6 s run finish before the click, and the button was gone. The progress
      // screenshot comes from the uncancelled run above.
      await panel.getByTestId('explain-cancel').click({ timeout: 30_000, force: true });
      await expect(progress).toHaveCount(0, { timeout: 120_000 });
      await expect(row).toHaveAttribute('data-method', 'gradcam');
    },
  );
  await expect(panel.getByTestId('explain-error')).toHaveCount(0);

  // Back to a stage method, pick a stage, measure faithfulness.
  await method.selectOption('layercam');
  await expect(row).toHaveAttribute('data-method', 'layercam', { timeout: 120_000 });
  await panel.locator('[data-testid="explain-stage"][data-stage="layer2"]').click();
  await panel.getByTestId('explain-faithfulness').click();
  const chart = panel.getByTestId('faithfulness-chart');
  await expect(chart).toBeVisible({ timeout: 240_000 });
  const deletion = Number(await panel.getByTestId('deletion-auc').textContent());
  const insertion = Number(await panel.getByTestId('insertion-auc').textContent());
  expect(deletion).toBeGreaterThanOrEqual(0);
  expect(insertion).toBeLessThanOrEqual(1);
  await page.screenshot({ path: path.join(OUT, 'explain-faithfulness.png') });

  const download = page.waitForEvent('download');
  await panel.getByTestId('explain-save').click();
  const saved = await download;
  expect(saved.suggestedFilename()).toMatch(/layercam-layer2-.*\.png$/);
  const file = await saved.path();
  const bytes = await import('node:fs/promises').then((fs) => fs.readFile(file));
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');

  expect(errors).toEqual([]);
  expect(await violations()).toEqual([]);
  await context.close();
});
