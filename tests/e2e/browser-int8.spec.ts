// Browser mode, int8: with a quantised copy of the loaded model in the store, the header offers a
// precision picker with the copy's agreement with fp32; switching to int8 reloads the model on its
// copy and the cards are classified by it. Without a copy, no int8 is offered.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test as base, expect } from '@playwright/test';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { folderCalibrationSource } from '../../src-main/engine/quantize/calibration-source.js';
import { quantizeModel } from '../../src-main/engine/quantize/quantize-model.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { dropFiles, watchCsp } from './fixtures.js';
import { FIXTURE_MODEL_SPEC, type RunningServer, startServer, openFresh } from './harness.js';

/** The server, and the folder its int8 copy was calibrated on (the path the app must show). */
const test = base.extend<object, { int8Server: RunningServer & { photosDir: string } }>({
  int8Server: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from the pattern
    async ({}, use) => {
      const model = await ensureFixture(FIXTURE_MODEL_SPEC);
      const work = await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-int8-'));
      const photos: string[] = [];
      await mkdir(path.join(work, 'photos'));
      for (let i = 0; i < 10; i++) {
        const file = path.join(work, 'photos', `p${i}.jpg`);
        await writeFile(file, await photoLike(320, 240, 'jpeg', 50 + i));
        photos.push(file);
      }
      const modelsDir = path.join(work, 'models');
      // As `reslens quantize fixture --calibrate <work>/photos` makes it: the record says where its photos came from.
      await quantizeModel({
        modelPath: model,
        modelName: 'fixture',
        storeDir: modelsDir,
        preprocessing: TORCHVISION_PREPROCESSING,
        images: photos,
        calibrationSource: folderCalibrationSource(path.join(work, 'photos')),
      });
      const server = await startServer({ model, modelsDir });
      await use({ ...server, photosDir: path.join(work, 'photos') });
      await server.stop();
      await rm(work, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 240_000 },
  ],
});

test('the precision picker shows int8 agreement and switches the model to its int8 copy', async ({ page, int8Server }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const violations = await watchCsp(page);
  await openFresh(page, int8Server);
  await expect(page.getByTestId('status-model')).toBeVisible();

  const precision = page.getByTestId('precision-picker');
  await expect(precision).toBeVisible();
  await expect(precision).toHaveValue('fp32'); // never int8 without the user choosing it
  // The agreement measured when the copy was made: short in the header, in full for screen readers and on hover.
  await expect(page.getByTestId('int8-fidelity')).toHaveText(/≈fp32 \d+%/);
  await expect(page.getByTestId('int8-fidelity')).toHaveAttribute('aria-label', /top-1 \d+%, top-5 overlap \d+%, KL \d/);
  // Beside it, what the copy was calibrated on (8 of the 10 photos; 2 held back for the agreement), how, and which set.
  const calibration = page.getByTestId('int8-calibration');
  await expect(calibration).toBeVisible();
  const escaped = int8Server.photosDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // In the header, the folder's own name; the whole sentence for screen readers and on hover.
  await expect(calibration).toHaveText('calibrated on …/photos');
  await expect(calibration).toHaveAttribute('aria-label', new RegExp(`^calibrated on 8 of the photos in ${escaped} \\(percentile; set [0-9a-f]{12}…\\)$`));
  await expect(page.getByTestId('precision')).toHaveAttribute(
    'title',
    new RegExp(`held-back photos: top-1 \\d+%.*\\ncalibrated on 8 of the photos in ${escaped}`),
  );

  const photo = { name: 'photo.jpg', bytes: await photoLike(400, 300, 'jpeg', 7) };
  await dropFiles(page, [photo]);
  const card = page.locator(`article[data-name="${photo.name}"]`);
  await expect(card).toHaveAttribute('data-phase', 'done');
  const fp32Top = await card.locator('.prob').first().innerText();

  await precision.selectOption('int8');
  // The engine now runs the int8 copy (the status says so, not just the select's own value).
  await expect(page.getByTestId('precision')).toHaveAttribute('data-precision', 'int8', { timeout: 120_000 });
  await expect(page.getByText(/loaded \(int8\)/)).toBeVisible();
  await expect(precision).toBeEnabled();
  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  // The card was classified again, by the int8 copy: its numbers moved (slightly).
  await expect(card.locator('.prob').first()).not.toHaveText(fp32Top, { timeout: 60_000 });
  await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'screenshots', 'int8-precision-picker.png'), animations: 'disabled' });

  // And back to fp32.
  await precision.selectOption('fp32');
  await expect(page.getByTestId('precision')).toHaveAttribute('data-precision', 'fp32', { timeout: 120_000 });
  await expect(precision).toBeEnabled();
  await expect(page.getByText(/Could not load/)).toHaveCount(0);
  // At 800 px wide the header keeps its width: the source is on hover only there.
  await page.setViewportSize({ width: 800, height: 700 });
  await expect(calibration).toBeHidden();
  await expect(page.getByTestId('int8-fidelity')).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
  expect(await violations(), 'Content-Security-Policy violations').toEqual([]);
});
