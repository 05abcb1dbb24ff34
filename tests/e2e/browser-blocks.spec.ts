// The residual-block lens in browser mode: the block strip in the feature view, switching a block
// off and scaling it with the top-5 updating against the intact network, and a lesion study over a
// folder with its chart, table and export; the Model view's strip under the stage table (structure
// before a photo, the lens after). Screenshots in test-results/screenshots/blocks-*.png.
// Uses the reference ResNet-50 (16 blocks) when ../shared/testdata is present, the ResNet-18 fixture otherwise.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { type DropFile, dropFiles, expect, fileFromDisk, test, watchCsp } from './fixtures.js';
import { type RunningServer, startServer, openFresh } from './harness.js';

const OUT = path.join(REPO_ROOT, 'test-results', 'screenshots');
const BLOCKS = hasTestdata ? 16 : 8;
let server: RunningServer;
let photo: DropFile;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(300_000);
  server = await startServer(hasTestdata ? { model: REFERENCE_MODEL } : {});
  await mkdir(OUT, { recursive: true });
  photo = hasTestdata ? await fileFromDisk(path.join(TESTDATA, 'images', 'flower.webp')) : { name: 'photo.jpg', bytes: await photoLike(640, 480, 'jpeg', 3) };
  const folder = path.join(server.root, 'Lesion photos');
  await mkdir(folder, { recursive: true });
  for (const name of hasTestdata ? ['flower.webp', 'china_orient6.jpg', 'moon_gray.jpg', 'text_gray.png'] : ['a.jpg', 'b.jpg', 'c.jpg']) {
    if (hasTestdata) await copyFile(path.join(TESTDATA, 'images', name), path.join(folder, name));
    else await writeFile(path.join(folder, name), await photoLike(320, 240, 'jpeg', name.charCodeAt(0)));
  }
  await writeFile(path.join(folder, 'broken.jpg'), 'not an image');
});

test.afterAll(async () => {
  await server?.stop();
});

test('block strip: switch a block off, see the top-5 change against the intact network; scale it; restore', async ({ browser }) => {
  test.setTimeout(240_000);
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const violations = await watchCsp(page);
  await openFresh(page, server);
  await dropFiles(page, [photo]);
  const cardEl = page.locator(`article[data-name="${photo.name}"]`);
  await expect(cardEl).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await cardEl.click();
  const view = page.getByTestId('feature-view');
  const strip = view.getByTestId('block-strip');
  await expect(strip.locator('[data-block]')).toHaveCount(BLOCKS, { timeout: 120_000 });
  await expect(strip.locator('[data-block="layer1.0"]')).toBeVisible();
  // Downsampling blocks are marked.
  for (const id of ['layer2.0', 'layer3.0', 'layer4.0'])
    await expect(strip.locator(`[data-block="${id}"]`)).toHaveAttribute('aria-label', /halves the resolution/);
  await expect(strip.locator('[data-block="layer1.1"]')).not.toHaveAttribute('aria-label', /halves the resolution/);

  // Hover: the block's norms and its two maps.
  // Keyboard focus shows the same detail as the pointer. (Playwright's hover() timed out here waiting for the cell to be 'stable' though its box did not move and click() on it works: not understood yet.)
  await strip.locator('[data-block="layer3.1"]').focus();
  await expect(strip.locator('.focus h4')).toContainText('layer3.1');
  await expect(strip.locator('.norms')).toContainText('‖F(x)‖');
  await expect(strip.getByRole('img', { name: 'layer3.1 residual branch mean activation' })).toBeVisible();
  await page.waitForTimeout(300);
  await strip.screenshot({ path: path.join(OUT, 'blocks-strip.png') });

  const top5 = strip.getByTestId('block-top5');
  const intact = await top5.locator('ol').innerText();
  await strip.locator('[data-block="layer2.0"]').click();
  await expect(strip.locator('[data-block="layer2.0"]')).toHaveAttribute('aria-pressed', 'true');
  await expect(top5.getByTestId('intact-top1')).toBeVisible({ timeout: 60_000 });
  await expect(top5.locator('h4')).toContainText('layer2.0');
  await expect.poll(async () => top5.locator('ol').innerText(), { timeout: 60_000 }).not.toEqual(intact);
  await expect(top5.getByTestId('intact-top1')).toContainText('→');
  // The feature view above follows: its top class and CAMs are the lesioned network's.
  await expect(view.getByTestId('features-lesioned')).toContainText('layer2.0');
  const lesionedTop1 = (await top5.locator('ol li .label').first().innerText()).trim();
  await expect(view.locator('.cam strong').first()).toHaveText(lesionedTop1, { timeout: 60_000 });
  await expect(view.locator('header .chip.accent')).toContainText(lesionedTop1);
  // The lesioned maps keep what the stage is (service/feature-values.ts): its receptive field and note.
  await expect(view.getByTestId('stage-info')).toContainText('Receptive field');
  await expect(view.getByTestId('stage-note')).toBeVisible();
  await page.mouse.move(0, 0);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(OUT, 'blocks-lesion.png') });

  // The slider scales the selected block's branch (here back up to 0.5×).
  const slider = strip.getByTestId('block-scale');
  await slider.evaluate((input) => {
    (input as HTMLInputElement).value = '0.5';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await expect(strip.locator('[data-block="layer2.0"]')).toHaveAttribute('aria-label', /scaled ×0\.5/, { timeout: 60_000 });
  await expect(strip.locator('[data-block="layer2.0"]')).toHaveAttribute('aria-pressed', 'false');

  await strip.getByRole('button', { name: 'Restore all' }).click();
  await expect(top5.getByTestId('intact-top1')).toBeHidden({ timeout: 60_000 });
  await expect.poll(async () => top5.locator('ol').innerText(), { timeout: 60_000 }).toEqual(intact);
  await expect(view.getByTestId('features-lesioned')).toBeHidden();
  expect(errors).toEqual([]);
  expect(await violations()).toEqual([]);
  await page.close();
});

test('lesion study over a folder: progress, chart, table and CSV export', async ({ browser }) => {
  test.setTimeout(300_000);
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await openFresh(page, server);
  await page.getByRole('tab', { name: /Batch/ }).click();
  const panel = page.getByTestId('lesion-study');
  await expect(panel.getByTestId('lesion-start')).toBeDisabled();
  await page.getByRole('button', { name: /Choose folder|Change/ }).click();
  const picker = page.getByTestId('folder-browser');
  await picker.locator('[data-folder-name="Lesion photos"]').click();
  await picker.getByTestId('choose-folder').click();
  await expect(picker).toBeHidden();
  await panel.getByTestId('lesion-start').click();
  const state = panel.getByTestId('lesion-state');
  await expect(state).toContainText(`${BLOCKS} blocks, ${BLOCKS + 1} inferences per photo`);
  await expect(state).toContainText('Done', { timeout: 240_000 });
  const photos = hasTestdata ? 4 : 3;
  await expect(state).toContainText(`${photos + 1} of ${photos + 1} photos`);
  await expect(state).toContainText('1 failed');
  await expect(panel.getByTestId('lesion-chart').locator('rect')).toHaveCount(BLOCKS);
  const rows = panel.locator('tbody tr');
  await expect(rows).toHaveCount(BLOCKS);
  await expect(panel.locator('tr[data-block="layer2.0"]')).toContainText('projection, stride 2');
  await expect(panel.locator('tr[data-block="layer1.1"]')).toContainText('identity');
  await expect(rows.first().locator('td').nth(2)).toHaveText(String(photos));
  await panel.scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  await panel.screenshot({ path: path.join(OUT, 'blocks-study.png') });

  const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Export study' }).click()]);
  expect(download.suggestedFilename()).toBe('reslens-lesions-Lesion photos.csv');
  const csv = await readFile(await download.path(), 'utf8');
  expect(csv.split('\r\n')[0]).toBe('block,stage,index,downsample,stride,images,top1_agreement,mean_top1_prob_drop');
  expect(csv.trim().split('\r\n')).toHaveLength(BLOCKS + 1);
  expect(errors).toEqual([]);
  await page.close();
});

test('Model view: the block strip under the stage table, structure before a photo, norms of the latest photo after', async ({ browser }) => {
  test.setTimeout(240_000);
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const violations = await watchCsp(page);
  await openFresh(page, server);
  await page.getByRole('tab', { name: /Model/ }).click();
  const view = page.locator('#view-model');
  const table = view.locator('table');
  await expect(table).toBeVisible({ timeout: 60_000 });
  const strip = view.getByTestId('model-blocks');
  // Under the stage table, not beside it.
  const tableBox = await table.boundingBox();
  const stripBox = await strip.boundingBox();
  expect(stripBox && tableBox && stripBox.y >= tableBox.y + tableBox.height).toBe(true);

  // No photo yet: the structure from the model (blocks per stage, downsampling marked) and how to get the norms.
  const empty = strip.getByTestId('model-blocks-empty');
  await expect(empty).toContainText('Classify a photo to see its blocks');
  await expect(empty.locator('[data-block]')).toHaveCount(BLOCKS);
  if (hasTestdata) {
    const perStage = await empty.locator('.stage').evaluateAll((stages) => stages.map((s) => s.querySelectorAll('[data-block]').length));
    expect(perStage).toEqual([3, 4, 6, 3]);
    // ResNet-50's layer1.0 widens 64 → 256: a projection at stride 1.
    await expect(empty.locator('[data-block="layer1.0"]')).toHaveAttribute('aria-label', 'layer1.0, projection shortcut');
  }
  for (const id of ['layer2.0', 'layer3.0', 'layer4.0'])
    await expect(empty.locator(`[data-block="${id}"]`)).toHaveAttribute('aria-label', /projection shortcut, halves the resolution/);
  await expect(empty.locator('[data-block="layer1.1"]')).toHaveAttribute('aria-label', 'layer1.1, identity shortcut');
  await expect(empty.locator('.cell.down')).toHaveCount(3);
  await strip.scrollIntoViewIfNeeded();
  await strip.screenshot({ path: path.join(OUT, 'blocks-model-empty.png') });

  // Classify a photo: the strip measures it, names it, and agrees with the structure shown before.
  await page.getByRole('tab', { name: /Images/ }).click();
  await dropFiles(page, [photo]);
  await expect(page.locator(`article[data-name="${photo.name}"]`)).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await page.getByRole('tab', { name: /Model/ }).click();
  await expect(strip.getByTestId('model-blocks-photo')).toContainText(photo.name);
  await expect(strip.getByTestId('model-blocks-empty')).toHaveCount(0);
  const measured = strip.getByTestId('block-strip');
  await expect(measured.locator('[data-block]')).toHaveCount(BLOCKS, { timeout: 120_000 });
  for (const id of ['layer2.0', 'layer3.0', 'layer4.0'])
    await expect(measured.locator(`[data-block="${id}"]`)).toHaveAttribute('aria-label', /halves the resolution/);
  await expect(measured.locator('[data-block="layer1.1"]')).not.toHaveAttribute('aria-label', /halves the resolution/);
  await expect(measured.locator('.cell.down')).toHaveCount(3);
  await measured.locator('[data-block="layer4.0"]').focus();
  await expect(measured.locator('.focus h4')).toContainText('layer4.0 · projection shortcut · stride 2');
  await expect(measured.locator('.norms')).toContainText('‖F(x)‖');
  await expect(measured.getByTestId('block-top5').locator('ol li')).toHaveCount(5);
  await page.waitForTimeout(300);
  await strip.screenshot({ path: path.join(OUT, 'blocks-model-strip.png') });
  await page.screenshot({ path: path.join(OUT, 'blocks-model-view.png'), fullPage: true });

  // A newer photo takes over; a photo the user opened in the feature view wins over the newest.
  const second: DropFile = hasTestdata
    ? await fileFromDisk(path.join(TESTDATA, 'images', 'moon_gray.jpg'))
    : { name: 'second.jpg', bytes: await photoLike(320, 240, 'jpeg', 9) };
  await page.getByRole('tab', { name: /Images/ }).click();
  await dropFiles(page, [second]);
  await expect(page.locator(`article[data-name="${second.name}"]`)).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await page.getByRole('tab', { name: /Model/ }).click();
  await expect(strip.getByTestId('model-blocks-photo')).toContainText(`${second.name} (the most recently classified photo)`);
  await expect(strip.getByTestId('block-strip').locator('[data-block]')).toHaveCount(BLOCKS, { timeout: 120_000 });
  await page.getByRole('tab', { name: /Images/ }).click();
  await page.locator(`article[data-name="${photo.name}"]`).click();
  await expect(page.getByTestId('feature-view')).toBeVisible();
  await page.getByRole('button', { name: 'Close feature maps (Esc)' }).click();
  await expect(page.getByTestId('feature-view')).toBeHidden();
  await page.getByRole('tab', { name: /Model/ }).click();
  await expect(strip.getByTestId('model-blocks-photo')).toContainText(`${photo.name} (last opened in the feature view)`);
  await expect(strip.getByTestId('block-strip').locator('[data-block]')).toHaveCount(BLOCKS, { timeout: 120_000 });
  expect(errors).toEqual([]);
  expect(await violations()).toEqual([]);
  await page.close();
});
