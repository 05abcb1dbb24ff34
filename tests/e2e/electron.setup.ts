// Global setup of playwright.electron.config.ts: with an Electron binary, build the app (renderer +
// main/preload/engine bundles) and the fixture model; without one, say why the specs skip.
import { spawnSync } from 'node:child_process';
import { findElectronBinary } from '../../scripts/electron-binary.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REPO_ROOT } from '../helpers/testdata.js';

export default async function electronSetup(): Promise<void> {
  const binary = findElectronBinary();
  if (!binary.ok) {
    process.stdout.write(
      `\nElectron binary not available: ${binary.reason}. The desktop app's end-to-end tests are skipped here (browser mode has its own).\n\n`,
    );
    return;
  }
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/electron.ts', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build:app failed');
  await ensureFixture({ depth: 18, bn: 'folded' });
}
