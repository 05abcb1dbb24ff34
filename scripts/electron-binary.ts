// Where the Electron executable is, found the way the electron package finds it but without
// `require('electron')`, which downloads the binary from GitHub on first use and throws (with a
// stack trace) when it cannot. Used by `npm start` and by the Electron end-to-end spec.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type ElectronBinary = { ok: true; path: string; version: string } | { ok: false; reason: string; version: string | null };

function platformPath(platform: NodeJS.Platform): string | null {
  switch (platform) {
    case 'darwin':
      return 'Electron.app/Contents/MacOS/Electron';
    case 'linux':
    case 'freebsd':
    case 'openbsd':
      return 'electron';
    case 'win32':
      return 'electron.exe';
    default:
      return null;
  }
}

/** Looks for the binary the electron package would run (honouring ELECTRON_OVERRIDE_DIST_PATH); never downloads. */
export function findElectronBinary(options: { root?: string; env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform } = {}): ElectronBinary {
  const root = options.root ?? REPO_ROOT;
  const env = options.env ?? process.env;
  const pkgDir = path.join(root, 'node_modules', 'electron');
  let version: string;
  try {
    version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return { ok: false, reason: 'the electron package is not installed (run npm ci)', version: null };
  }
  const relative = platformPath(options.platform ?? process.platform);
  if (!relative) return { ok: false, reason: `Electron has no build for ${options.platform ?? process.platform}`, version };
  const override = env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const binary = path.join(override, relative);
    return existsSync(binary)
      ? { ok: true, path: binary, version }
      : { ok: false, reason: `there is no Electron binary at ${binary} (ELECTRON_OVERRIDE_DIST_PATH)`, version };
  }
  const binary = path.join(pkgDir, 'dist', relative);
  if (!existsSync(path.join(pkgDir, 'path.txt')) || !existsSync(binary))
    return { ok: false, reason: `the Electron ${version} binary has not been downloaded`, version };
  return { ok: true, path: binary, version };
}

/**
 * Finds the binary, downloading it first (the electron package's own installer, output captured)
 * when it is missing and `download` is allowed. The failure reason is one line.
 */
export function ensureElectronBinary(options: { root?: string; env?: NodeJS.ProcessEnv; download?: boolean; timeoutMs?: number } = {}): ElectronBinary {
  const env = options.env ?? process.env;
  const found = findElectronBinary({ root: options.root, env });
  if (found.ok || !options.download || found.version === null || env.ELECTRON_OVERRIDE_DIST_PATH) return found;
  const installer = path.join(options.root ?? REPO_ROOT, 'node_modules', 'electron', 'install.js');
  const run = spawnSync(process.execPath, [installer], { env, encoding: 'utf8', timeout: options.timeoutMs ?? 10 * 60_000 });
  const again = findElectronBinary({ root: options.root, env });
  if (again.ok) return again;
  const output = `${run.stderr ?? ''}\n${run.stdout ?? ''}`;
  const cause = run.error
    ? run.error.message
    : (output
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l && !l.startsWith('at ')) ?? `installer exit code ${run.status}`);
  return {
    ok: false,
    reason: `the Electron ${found.version} binary is not here and downloading it from GitHub failed (${cause.replace(/^(Type|)Error: /, '').slice(0, 160)})`,
    version: found.version,
  };
}
