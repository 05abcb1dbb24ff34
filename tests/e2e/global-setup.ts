// Before the browser tests: the built renderer must exist (npm run test:e2e builds it first) and
// the fixture model is generated (cached under tests/fixtures/generated/).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensureFixture } from '../fixtures/generate.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { FIXTURE_MODEL_SPEC, SECOND_MODEL_SPEC } from './harness.js';

export default async function globalSetup(): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'renderer', 'index.html'))) {
    throw new Error('dist/renderer is missing: run `npm run build:renderer` first (npm run test:e2e does)');
  }
  if (!existsSync(process.env.RESLENS_CHROMIUM ?? '/usr/bin/chromium')) {
    throw new Error('Chromium is missing: apt-get install -y chromium (Playwright must not download browsers here)');
  }
  await ensureFixture(FIXTURE_MODEL_SPEC);
  await ensureFixture(SECOND_MODEL_SPEC);
}
