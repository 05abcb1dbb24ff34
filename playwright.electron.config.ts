// The desktop app's end-to-end tests (tests/e2e/electron*.spec.ts), separate from browser mode's
// playwright.config.ts: they launch the Electron binary instead of a browser. Where the binary is
// missing (it downloads from GitHub on first use), the setup says so and every test is skipped
// with the reason "Electron binary not available: …".
//   npm run test:e2e:electron
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'tests/e2e',
  testMatch: /electron.*\.spec\.ts$/,
  outputDir: 'test-results/playwright-electron',
  globalSetup: './tests/e2e/electron.setup.ts',
  // One app and one engine at a time on a 2-core machine.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: { trace: 'retain-on-failure', screenshot: 'only-on-failure' },
});
