// Screenshots of the main views at 1024×640, 1280×800 and 1920×1080, light and dark, saved as test artifacts
// in test-results/screenshots/. Uses the reference ResNet-50 (real ImageNet weights, so the labels
// make sense) when ../shared/testdata is present, the ResNet-18 fixture otherwise.
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Page } from '@playwright/test';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { type DropFile, dropFiles, expect, fileFromDisk, test, watchCsp } from './fixtures.js';
import { type RunningServer, startServer, openFresh } from './harness.js';

const OUT = path.join(REPO_ROOT, 'test-results', 'screenshots');
let server: RunningServer;
let photos: DropFile[];

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(300_000);
  server = await startServer(hasTestdata ? { model: REFERENCE_MODEL } : {});
  await mkdir(OUT, { recursive: true });
  if (hasTestdata) {
    const dir = path.join(TESTDATA, 'images');
    const names = (await readdir(dir)).filter((f) => !f.endsWith('.md')).sort();
    photos = await Promise.all(names.map((f) => fileFromDisk(path.join(dir, f))));
  } else {
    photos = await Promise.all(Array.from({ length: 8 }, async (_, i) => ({ name: `photo-${i + 1}.jpg`, bytes: await photoLike(640, 480, 'jpeg', i + 1) })));
  }
  // A folder for the batch view: the photos a few times over.
  const folder = path.join(server.root, 'Holiday photos');
  await mkdir(folder, { recursive: true });
  for (let copy = 0; copy < 3; copy++) {
    for (const p of photos) {
      const src = path.join(folder, `${copy}-${p.name}`);
      if (hasTestdata) await copyFile(path.join(TESTDATA, 'images', p.name), src);
      else await import('node:fs/promises').then((fs) => fs.writeFile(src, p.bytes));
    }
  }
});

test.afterAll(async () => {
  await server?.stop();
});

async function shoot(page: Page, name: string, size: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(OUT, `${name}-${size}-${scheme}.png`), animations: 'disabled' });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await cutOff(page), `${name} at ${size}: content cut off`).toEqual([]);
}

/**
 * Content that does not fit (issue 15: stage tabs, the Model table, the colour legend at 1024 wide):
 * the page scrolling sideways, and the header's or a dialog's own controls overflowing their box.
 * A scroll area that scrolls on purpose (a table's wrapper, the stage strip) is not counted.
 */
function cutOff(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1) problems.push(`the page scrolls sideways (${root.scrollWidth} > ${root.clientWidth})`);
    const boxes = document.querySelectorAll<HTMLElement>('header, .toolbar, .legend, .controls, [role="tablist"], dialog[open] header');
    for (const el of boxes) {
      const style = getComputedStyle(el);
      const scrolls = ['auto', 'scroll'].includes(style.overflowX);
      if (!scrolls && el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
        problems.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} overflows (${el.scrollWidth} > ${el.clientWidth})`);
    }
    return problems;
  });
}

for (const viewport of [
  // The smallest window the app is laid out for (issue 15).
  { width: 1024, height: 640 },
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
]) {
  const size = `${viewport.width}x${viewport.height}`;
  test(`main views at ${size}`, async ({ browser }) => {
    test.setTimeout(300_000);
    const context = await browser.newContext({ viewport, acceptDownloads: true });
    const page = await context.newPage();
    const violations = await watchCsp(page);
    await openFresh(page, server);
    await expect(page.getByTestId('status-model')).toBeVisible();
    await shoot(page, '1-empty', size);

    await dropFiles(page, photos);
    await expect(page.locator('article[data-phase="done"]')).toHaveCount(photos.length, { timeout: 120_000 });
    await expect(page.locator('article img')).toHaveCount(photos.length);
    await page.waitForTimeout(300);
    await shoot(page, '2-images', size);

    const subject = photos.find((p) => p.name.startsWith('kite')) ?? photos[0];
    await page.locator(`article[data-name="${subject.name}"]`).click();
    const view = page.getByTestId('feature-view');
    await expect(view.locator('[data-stage="layer4"]')).toBeVisible({ timeout: 60_000 });
    await view.locator('[data-stage="layer3"]').click();
    await page.waitForTimeout(300);
    await shoot(page, '3-features', size);
    await view.locator('[data-cam="0"]').click();
    await page.waitForTimeout(200);
    await shoot(page, '4-features-cam', size);
    await page.keyboard.press('Escape');
    await expect(view).toBeHidden();

    await page.getByRole('tab', { name: /Model/ }).click();
    await expect(page.getByRole('table')).toBeVisible();
    await shoot(page, '5-model', size);

    await page.getByRole('tab', { name: /Batch/ }).click();
    await shoot(page, '6-batch-empty', size);
    await page.getByRole('button', { name: /Choose folder/ }).click();
    const picker = page.getByTestId('folder-browser');
    await expect(picker.locator('[data-folder-name="Holiday photos"]')).toBeVisible();
    await shoot(page, '7-folder-picker', size);
    await picker.locator('[data-folder-name="Holiday photos"]').click();
    await picker.getByTestId('choose-folder').click();
    await page.getByRole('button', { name: 'Start batch' }).click();
    const progress = page.getByTestId('batch-progress');
    const unavailable = page.getByTestId('batch-unavailable');
    await expect(progress.or(unavailable)).toBeVisible();
    if (await progress.isVisible()) {
      await expect(progress).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
      await page.waitForTimeout(400);
    }
    await shoot(page, '8-batch', size);

    expect(await violations()).toEqual([]);
    await context.close();
  });
}
