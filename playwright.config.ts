// Browser-mode end-to-end tests: the real server (`npm run serve`'s code) with a real engine, driven
// in Debian's Chromium. Playwright never downloads browsers here: it uses /usr/bin/chromium
// (override with RESLENS_CHROMIUM). Electron specs (tests/e2e/electron*.spec.ts) have their own setup.
import { defineConfig } from '@playwright/test';

const chromium = process.env.RESLENS_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'tests/e2e',
  testMatch: /.*\.spec\.ts$/,
  testIgnore: /electron.*\.spec\.ts$/,
  outputDir: 'test-results/playwright',
  globalSetup: './tests/e2e/global-setup.ts',
  // One engine at a time on a 2-core machine: tests share a worker-scoped server.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: 'test-results/playwright-report' }]] : [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
