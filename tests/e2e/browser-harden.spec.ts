// Issue 14 in the real UI (browser mode, Chromium): a reloaded page finds the batch it started
// (batch.list; the page cookie no longer carries the token, the tab's sessionStorage does), and an
// upload over the server's quota shows QUOTA_EXCEEDED on its card.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { photoLike } from '../helpers/bad-inputs.js';
import { dropFiles, expect, test } from './fixtures.js';
import { startServer, openFresh } from './harness.js';

test('a reload during a batch shows the same run again, and it can still be cancelled', async ({ app, server }) => {
  const folder = path.join(server.root, 'reload-batch');
  await mkdir(folder, { recursive: true });
  const photo = await photoLike(640, 480, 'jpeg', 3);
  for (let i = 0; i < 120; i++) await writeFile(path.join(folder, `r${String(i).padStart(3, '0')}.jpg`), photo);
  await app.getByRole('tab', { name: /Batch/ }).click();
  await app.getByRole('button', { name: /Choose folder|Change/ }).click();
  const picker = app.getByTestId('folder-browser');
  await picker.locator('[data-folder-name="reload-batch"]').click();
  await picker.getByTestId('choose-folder').click();
  await app.getByRole('button', { name: 'Start batch' }).click();
  await expect(app.getByTestId('batch-progress')).toHaveAttribute('data-state', 'running');

  await app.reload();
  // The token is gone from the address bar and is not in any cookie: the tab's sessionStorage has it.
  expect(new URL(app.url()).searchParams.get('token')).toBeNull();
  const cookies = await app.context().cookies();
  expect(cookies.some((c) => c.value.includes(new URL(server.url).searchParams.get('token') as string))).toBe(false);
  await expect(app.getByTestId('status-model')).toBeVisible();
  await app.getByRole('tab', { name: /Batch/ }).click();
  const progress = app.getByTestId('batch-progress');
  await expect(progress).toBeVisible();
  await app.screenshot({ path: test.info().outputPath('reloaded-batch.png') });
  if ((await progress.getAttribute('data-state')) === 'running') {
    await progress.getByRole('button', { name: 'Cancel' }).click();
    await expect(progress).toHaveAttribute('data-state', 'cancelled');
  }
});

test('an upload over the quota gets QUOTA_EXCEEDED on its card', async ({ page }) => {
  const small = await startServer({ args: ['--upload-quota-mb', '1', '--upload-limit-mb', '1'] });
  try {
    await openFresh(page, small);
    await expect(page.getByTestId('status-model')).toBeVisible();
    // Noise does not compress: each PNG is about 700 KB, so the second does not fit in 1 MB.
    const noise = () => randomBytes(480 * 480 * 3);
    const files = await Promise.all(
      [1, 2].map(async (seed) => ({
        name: `noise-${seed}.png`,
        type: 'image/png',
        bytes: await sharp(noise(), { raw: { width: 480, height: 480, channels: 3 } })
          .png()
          .toBuffer(),
      })),
    );
    expect(files[0].bytes.length).toBeGreaterThan(600_000);
    await dropFiles(page, files);
    await expect(page.locator('article[data-name="noise-1.png"]')).toHaveAttribute('data-phase', 'done');
    const refused = page.locator('article[data-name="noise-2.png"]');
    await expect(refused).toHaveAttribute('data-phase', 'error');
    await expect(refused.locator('.chip.bad')).toHaveText('QUOTA_EXCEEDED');
    await expect(refused.locator('.error p')).toContainText(/limited to 1 MB/);
    await page.screenshot({ path: test.info().outputPath('quota-exceeded.png') });
  } finally {
    await small.stop();
  }
});
