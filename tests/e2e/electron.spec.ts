// The desktop app end to end (Playwright's _electron): the real main process, preload, sandboxed
// renderer and engine utilityProcess. Runs wherever the Electron binary exists; elsewhere every
// test is skipped with the reason (and playwright.electron.config.ts's setup prints it).
//   npm run test:e2e:electron     (builds the app first when the binary is there)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ElectronApplication, type Page, _electron as electron, expect, test } from '@playwright/test';
import { findElectronBinary } from '../../scripts/electron-binary.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const binary = findElectronBinary();
const ELECTRON_SKIP_REASON = binary.ok
  ? ''
  : `Electron binary not available: ${binary.reason} (npx install-electron where github.com or an ELECTRON_MIRROR is reachable)`;

test.describe('desktop app (Electron)', () => {
  test.skip(!binary.ok, ELECTRON_SKIP_REASON);
  test.describe.configure({ mode: 'serial' });

  let dir: string;
  let photos: string[];
  let app: ElectronApplication;
  let window: Page;
  const logs: string[] = [];

  test.beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-electron-e2e-'));
    photos = [];
    for (let i = 0; i < 2; i++) {
      const file = path.join(dir, `photo-${i}.jpg`);
      await writeFile(file, await photoLike(480, 360, 'jpeg', i + 3));
      photos.push(file);
    }
    const args = [REPO_ROOT];
    // CI machines without a display: Chromium's headless Ozone backend. As root: no OS sandbox (Chromium refuses otherwise).
    if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) args.unshift('--ozone-platform=headless');
    if (process.getuid?.() === 0) args.unshift('--no-sandbox');
    app = await electron.launch({
      executablePath: (binary as { path: string }).path,
      args,
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        RESLENS_MODEL: await ensureFixture({ depth: 18, bn: 'folded' }),
        RESLENS_MODELS_DIR: path.join(dir, 'models'),
        RESLENS_USER_DATA_DIR: path.join(dir, 'user-data'),
        XDG_CACHE_HOME: path.join(dir, 'cache'),
      },
      timeout: 120_000,
    });
    app.process().stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
    window = await app.firstWindow();
    await expect(window.getByTestId('status-model')).toBeVisible({ timeout: 120_000 });
  });

  test.afterAll(async () => {
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the page gets exactly { api, host } and no Node', async () => {
    const shape = await window.evaluate(() => {
      const w = globalThis as unknown as { reslens: Record<string, Record<string, unknown>>; require?: unknown; process?: unknown };
      return {
        keys: Object.keys(w.reslens).sort(),
        api: Object.keys(w.reslens.api).sort(),
        host: Object.keys(w.reslens.host).sort(),
        kind: w.reslens.host.kind,
        require: typeof w.require,
        process: typeof w.process,
      };
    });
    expect(shape).toEqual({
      keys: ['api', 'host'],
      api: ['call', 'on'],
      host: ['addFiles', 'kind', 'onCommand', 'pickFolder', 'saveFile'],
      kind: 'electron',
      require: 'undefined',
      process: 'undefined',
    });
  });

  test('files made by page script have no path, and forged ids are refused in main', async () => {
    const result = await window.evaluate(async () => {
      const { api, host } = (
        globalThis as unknown as { reslens: { api: { call(m: string, p: unknown): Promise<unknown> }; host: { addFiles(f: unknown[]): Promise<unknown[]> } } }
      ).reslens;
      const added = await host.addFiles([new File([new Uint8Array([0xff, 0xd8, 0xff])], 'made-up.jpg', { type: 'image/jpeg' })]);
      const forged = await api.call('images.thumbnail', { image: 'img_AAAAAAAAAAAAAAAAAAAAAAAA', size: 64 }).then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
      const path = await api.call('images.thumbnail', { image: '/etc/passwd', size: 64 }).then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
      return { added, forged, path };
    });
    expect(result).toEqual({ added: [], forged: 'NOT_GRANTED', path: 'INVALID_REQUEST' });
  });

  test('images chosen in the window: top-5 cards, then the feature view', async () => {
    // The real file input: Chromium gives these File objects their paths, the preload reads them
    // with webUtils.getPathForFile, and main grants ids.
    await window.locator('input[type=file]').first().setInputFiles(photos);
    const done = window.locator('article[data-phase="done"]');
    await expect(done).toHaveCount(2, { timeout: 90_000 });
    await expect(done.first().locator('ol li')).toHaveCount(5);
    await done.first().click();
    await expect(window.getByTestId('feature-view')).toBeVisible();
    await expect(window.getByTestId('heatmap-main')).toBeVisible({ timeout: 60_000 });
    await window.keyboard.press('Escape');
  });

  test('File ▸ Open Images… goes through the native dialog and main', async () => {
    // The native dialog cannot be clicked by Playwright: answer it in the main process.
    await app.evaluate(
      ({ dialog }, files) => {
        dialog.showOpenDialog = (async () => ({ canceled: false, filePaths: files })) as unknown as typeof dialog.showOpenDialog;
      },
      [photos[0]],
    );
    const before = await window.locator('article').count();
    await app.evaluate(({ Menu }) => Menu.getApplicationMenu()?.getMenuItemById('open-images')?.click());
    await expect(window.locator('article')).toHaveCount(before + 1, { timeout: 30_000 });
  });

  test('the engine process crashes: the window stays, the engine restarts with a notice', async () => {
    const pid = await app.evaluate(({ app: electronApp }) => electronApp.getAppMetrics().find((m) => m.type === 'Utility' && m.name === 'ResLens engine')?.pid);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, 'SIGKILL');
    await expect
      .poll(
        async () =>
          window.evaluate(() =>
            (globalThis as unknown as { reslens: { api: { call(m: string, p: unknown): Promise<{ notice?: string }> } } }).reslens.api
              .call('engine.status', {})
              .then((s) => s.notice ?? ''),
          ),
        { timeout: 60_000 },
      )
      .toMatch(/stopped unexpectedly.*restarted/);
    await expect(window.getByTestId('status-model')).toBeVisible();
    expect(logs.join('')).toMatch(/engine: process stopped unexpectedly/);
  });
});
