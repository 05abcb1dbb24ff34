// Browser mode, interactive: drop or choose images, read the top-5 cards, open the feature view.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Page } from '@playwright/test';
import { photoLike, writeBadInputSet } from '../helpers/bad-inputs.js';
import { TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { type DropFile, dropFiles, expect, fileFromDisk, readCanvas, signatureDistance, test } from './fixtures.js';
import { SECOND_MODEL_NAME } from './harness.js';

async function samplePhotos(count: number): Promise<DropFile[]> {
  if (hasTestdata) {
    const dir = path.join(TESTDATA, 'images');
    const names = (await readdir(dir))
      .filter((f) => !f.endsWith('.md'))
      .sort()
      .slice(0, count);
    return Promise.all(names.map((f) => fileFromDisk(path.join(dir, f))));
  }
  return Promise.all(Array.from({ length: count }, async (_, i) => ({ name: `photo-${i + 1}.jpg`, bytes: await photoLike(400, 300, 'jpeg', i + 1) })));
}

const card = (page: Page, name: string) => page.locator(`article[data-name="${name}"]`);

async function expectTop5(page: Page, name: string): Promise<string[]> {
  const c = card(page, name);
  await expect(c).toHaveAttribute('data-phase', 'done');
  const rows = c.getByRole('list', { name: 'Top 5 classes' }).getByRole('listitem');
  await expect(rows).toHaveCount(5);
  const labels = await c.locator('.label').allInnerTexts();
  expect(labels).toHaveLength(5);
  for (const label of labels) expect(label.trim().length).toBeGreaterThan(0);
  await expect(c.locator('.prob').first()).toHaveText(/^\d+(\.\d)?%$|^<0\.1%$/);
  await expect(c.locator('img')).toBeVisible(); // the engine-made thumbnail
  return labels;
}

async function setOpacity(page: Page, value: number): Promise<void> {
  await page.getByLabel('Opacity').evaluate((input, v) => {
    (input as HTMLInputElement).value = String(v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

test('dropped images become cards with their top-5 classes', async ({ app }) => {
  const photos = await samplePhotos(3);
  const started = Date.now();
  await dropFiles(app, photos);
  for (const photo of photos) await expectTop5(app, photo.name);
  test.info().annotations.push({ type: 'timing', description: `3 dropped photos classified in ${Date.now() - started} ms` });
  await expect(app.getByRole('tab', { name: /Images/ })).toContainText('3');
  // Keyboard: a finished card is a button (Enter/Space), in tab order.
  await expect(card(app, photos[0].name)).toHaveAttribute('tabindex', '0');
  await expect(card(app, photos[0].name)).toHaveAttribute('role', 'button');
});

test('the "Open images" file input classifies chosen files', async ({ app }) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-input-'));
  try {
    const files = await samplePhotos(2);
    const paths: string[] = [];
    for (const f of files) {
      const p = path.join(dir, `chosen-${f.name}`);
      await import('node:fs/promises').then((fs) => fs.writeFile(p, f.bytes));
      paths.push(p);
    }
    await expect(app.getByRole('button', { name: 'Open images', exact: true })).toBeVisible();
    await app.locator('input[type="file"][multiple]').setInputFiles(paths);
    for (const p of paths) await expectTop5(app, path.basename(p));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad files get their own error on their card; good ones still classify', async ({ app }) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-bad-'));
  try {
    const cases = (await writeBadInputSet(dir)).filter((c) => c.expect !== 'folder' && c.file !== 'missing.jpg');
    const files = await Promise.all(cases.map((c) => fileFromDisk(path.join(dir, c.file))));
    await dropFiles(app, files);
    for (const c of cases) {
      const el = card(app, c.file);
      if (c.expect === 'ok') {
        await expect(el, c.file).toHaveAttribute('data-phase', 'done');
        await expect(el.getByRole('listitem')).toHaveCount(5);
      } else {
        await expect(el, c.file).toHaveAttribute('data-phase', 'error');
        await expect(el.locator('.chip.bad'), c.file).toHaveText(c.expect);
        await expect(el.locator('.error p')).not.toBeEmpty();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('feature view: stage heatmaps are drawn and differ per stage; channels, CAMs, colormap, keyboard', async ({ app }) => {
  const [photo] = await samplePhotos(1);
  await dropFiles(app, [photo]);
  const topLabels = await expectTop5(app, photo.name);

  // Keyboard: Enter on the focused card opens the view.
  await card(app, photo.name).focus();
  await app.keyboard.press('Enter');
  const view = app.getByTestId('feature-view');
  await expect(view).toBeVisible();
  const stages = view.getByRole('tab');
  await expect(stages).toHaveCount(5);
  for (const [name, paper] of [
    ['stem', 'conv1'],
    ['layer1', 'conv2_x'],
    ['layer2', 'conv3_x'],
    ['layer3', 'conv4_x'],
    ['layer4', 'conv5_x'],
  ]) {
    await expect(view.locator(`[data-stage="${name}"]`)).toContainText(name);
    await expect(view.locator(`[data-stage="${name}"]`)).toContainText(paper);
  }

  // Heatmap only (opacity 100 %, uniform: by default transparency follows the value and low values
  // show the photo) so the photo under it does not mask stage differences.
  await setOpacity(app, 1);
  await view.getByLabel('Transparency').selectOption('uniform');
  const main = '[data-testid="heatmap-main"]';
  const drawn: Record<string, Awaited<ReturnType<typeof readCanvas>>> = {};
  for (const name of ['stem', 'layer1', 'layer2', 'layer3', 'layer4']) {
    await view.locator(`[data-stage="${name}"]`).click();
    await expect(view.locator(`[data-stage="${name}"]`)).toHaveAttribute('aria-selected', 'true');
    await expect(view.locator('.caption')).toContainText(name);
    await app.waitForTimeout(100);
    drawn[name] = await readCanvas(app, main);
    expect(drawn[name].width, 'canvas has a backing store').toBeGreaterThan(100);
    expect(drawn[name].std, `${name} heatmap is not blank`).toBeGreaterThan(5);
  }
  const names = Object.keys(drawn);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      expect(signatureDistance(drawn[names[i]], drawn[names[j]]), `${names[i]} vs ${names[j]}`).toBeGreaterThan(2);
    }
  }

  // Opacity mixes in the photo.
  await setOpacity(app, 0.3);
  await app.waitForTimeout(100);
  expect(signatureDistance(await readCanvas(app, main), drawn.layer4)).toBeGreaterThan(2);
  await setOpacity(app, 1);

  // Max over channels: the engine runs the graph's max heatmaps (switched on for this request) and
  // the map changes; back to mean, the mean map returns.
  const reduceBy = view.getByLabel('Reduce channels by');
  await reduceBy.selectOption('max');
  await expect(reduceBy).toHaveValue('max');
  await expect
    .poll(async () => signatureDistance(await readCanvas(app, main), drawn.layer4), { message: 'the max map differs from the mean' })
    .toBeGreaterThan(2);
  expect((await readCanvas(app, main)).std, 'max heatmap is not blank').toBeGreaterThan(5);
  await app.screenshot({ path: test.info().outputPath('feature-view-max.png') });
  await reduceBy.selectOption('mean');
  await expect.poll(async () => signatureDistance(await readCanvas(app, main), drawn.layer4), { message: 'the mean map is back' }).toBeLessThan(1);

  // A channel of the selected stage, fetched with features.channel.
  const channel = view.locator('[data-channel]').nth(1);
  const number = await channel.getAttribute('data-channel');
  await channel.click();
  await expect(view.locator('.caption')).toContainText(`channel ${number}`);
  await expect(channel).toHaveAttribute('aria-pressed', 'true');
  await app.waitForTimeout(100);
  expect(signatureDistance(await readCanvas(app, main), drawn.layer4)).toBeGreaterThan(1);

  // Class activation maps for each top class.
  const cams = view.locator('[data-cam]');
  await expect(cams).toHaveCount(5);
  await expect(cams.first()).toContainText(topLabels[0]);
  await cams.nth(0).click();
  await expect(view.locator('.caption')).toContainText('Class activation map');
  const cam0 = await readCanvas(app, main);
  expect(cam0.std).toBeGreaterThan(5);

  // Colormap choice redraws.
  await view.getByLabel('Colormap').selectOption('viridis');
  await app.waitForTimeout(100);
  expect(signatureDistance(await readCanvas(app, main), cam0)).toBeGreaterThan(2);

  // Esc closes; focus returns to the page.
  await app.keyboard.press('Escape');
  await expect(view).toBeHidden();
});

test('status bar, model panel and theme', async ({ app }) => {
  await expect(app.getByTestId('ep-label')).toContainText(/CPU · \d+ threads?/);
  // The fixture is a bare .onnx file: never presented as ImageNet-trained.
  await expect(app.getByTestId('status-not-pretrained')).toHaveText(/imported model: labels shown as ImageNet classes/i);

  await app.getByRole('tab', { name: /Model/ }).click();
  const table = app.getByRole('table');
  await expect(table).toContainText('conv2_x');
  await expect(table).toContainText('layer4');
  await expect(app.getByText('1 + 2×(2+2+2+2) + 1 = 18')).toBeVisible();
  await expect(app.getByText('ResNet-18', { exact: true })).toBeVisible();

  const before = await app.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const toggle = app.getByRole('button', { name: /Switch to (dark|light) theme/ });
  const target = (await toggle.getAttribute('aria-label'))?.includes('dark') ? 'dark' : 'light';
  await toggle.click();
  await expect(app.locator('html')).toHaveAttribute('data-theme', target);
  expect(await app.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(before);
});

test('the model picker switches to an imported model and the cards are classified again', async ({ app }) => {
  const [photo] = await samplePhotos(1);
  await dropFiles(app, [photo]);
  await expectTop5(app, photo.name);
  const picker = app.getByTestId('model-picker');
  await expect(picker.locator(`option[value="${SECOND_MODEL_NAME}"]`)).toHaveCount(1);
  const before = await app.getByTestId('status-model').innerText();
  await picker.selectOption(SECOND_MODEL_NAME);
  await expect(app.getByTestId('status-model')).toHaveText(SECOND_MODEL_NAME, { timeout: 120_000 });
  expect(before).not.toBe(SECOND_MODEL_NAME);
  await expect(app.getByTestId('status-not-pretrained')).toBeVisible(); // imported: still not presented as ImageNet-trained
  await expectTop5(app, photo.name); // re-classified with the new model
  await app.getByRole('tab', { name: /Model/ }).click();
  await expect(app.getByRole('listitem').filter({ hasText: SECOND_MODEL_NAME })).toContainText('In use');
});

test('keyboard: focus order through the header into the cards, arrow keys between views', async ({ app }) => {
  const [photo] = await samplePhotos(1);
  await dropFiles(app, [photo]);
  await expectTop5(app, photo.name);
  await app.locator('body').focus();
  const order: string[] = [];
  for (let i = 0; i < 8; i++) {
    await app.keyboard.press('Tab');
    order.push(
      await app.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return el?.getAttribute('aria-label') ?? el?.textContent?.trim().replace(/\s+/g, ' ') ?? '';
      }),
    );
  }
  expect(order[0]).toMatch(/^Images/);
  expect(order[1]).toBe('Open images');
  expect(order[2]).toBe('Model');
  expect(order[3]).toMatch(/Switch to (dark|light) theme/);
  expect(order.slice(4, 7)).toEqual(['Cards', 'Gallery', 'Clear']); // the Images view's Cards/Gallery switch (issue 15), then Clear
  expect(order[7]).toContain(photo.name);
  // Space opens the card too; Esc closes.
  await app.keyboard.press(' ');
  await expect(app.getByTestId('feature-view')).toBeVisible();
  await app.keyboard.press('Escape');
  await expect(app.getByTestId('feature-view')).toBeHidden();
  // Views are tabs: arrow keys move between them.
  await app.getByRole('tab', { name: /Images/ }).focus();
  await app.keyboard.press('ArrowRight');
  await expect(app.getByRole('tab', { name: /Batch/ })).toHaveAttribute('aria-selected', 'true');
  await expect(app.getByRole('tab', { name: /Batch/ })).toBeFocused();
});
