// Desktop build driver (run through tsx; configuration in electron.config.ts):
//   build   npm run build:app  the renderer (its own Vite build) and the main/preload/engine bundles
//   start   npm start          checks for the Electron binary, builds, launches the app
//   dist    npm run dist       builds, then packages with electron-builder for this platform
//                              (extra arguments: --linux | --mac | --win, --dir for an unpacked app)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { type BundleName, type TargetPlatform, builderConfig, bundles, paths } from '../electron.config.js';
import { REPO_ROOT, ensureElectronBinary } from './electron-binary.js';

const say = (message: string) => process.stderr.write(`${message}\n`);

/** The renderer's own build script, if the package defines one (the renderer owns its Vite config). */
function buildRenderer(): void {
  const scripts = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  const script = ['build:renderer', 'build:ui'].find((name) => scripts[name]);
  if (!script) {
    say('note: no build:renderer script: using whatever is in dist/renderer');
    return;
  }
  const npm = process.env.npm_execpath;
  const run = npm
    ? spawnSync(process.execPath, [npm, 'run', script], { cwd: REPO_ROOT, stdio: 'inherit' })
    : spawnSync('npm', ['run', script], { cwd: REPO_ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (run.status !== 0) throw new Error(`npm run ${script} failed`);
}

/** Builds the three bundles into `outDir` (default dist/app) and checks what each may load at run time. */
export async function buildBundles(options: { outDir?: string; only?: BundleName[] } = {}): Promise<Record<BundleName, string>> {
  const outDir = path.resolve(REPO_ROOT, options.outDir ?? paths.appOut);
  const outputs = {} as Record<BundleName, string>;
  for (const name of options.only ?? (Object.keys(bundles) as BundleName[])) {
    const { options: esbuildOptions, mayRequire, copy = [] } = bundles[name];
    const outfile = path.join(outDir, path.basename(esbuildOptions.outfile as string));
    const result = await build({ ...esbuildOptions, absWorkingDir: REPO_ROOT, outfile });
    const output = Object.entries(result.metafile?.outputs ?? {}).find(([file]) => path.resolve(REPO_ROOT, file) === outfile);
    if (!output) throw new Error(`${name} bundle: esbuild wrote no ${outfile}`);
    const forbidden = output[1].imports.filter((i) => i.external && !mayRequire(i.path)).map((i) => i.path);
    if (forbidden.length > 0) throw new Error(`${name} bundle loads ${forbidden.join(', ')} at run time, which it must not (see electron.config.ts)`);
    for (const file of copy) await copyFile(path.join(REPO_ROOT, file), path.join(outDir, path.basename(file)));
    outputs[name] = outfile;
  }
  return outputs;
}

async function buildApp(): Promise<void> {
  buildRenderer();
  rmSync(path.join(REPO_ROOT, paths.appOut), { recursive: true, force: true });
  const outputs = await buildBundles();
  for (const file of Object.values(outputs)) say(`built ${path.relative(REPO_ROOT, file)}`);
  if (!existsSync(path.join(REPO_ROOT, paths.rendererOut, 'index.html')))
    say(`warning: ${paths.rendererOut}/index.html is missing: the window will have nothing to show until the renderer is built`);
}

async function start(args: string[]): Promise<number> {
  // First the binary: there is no point building what cannot be launched.
  const electron = ensureElectronBinary({ download: true });
  if (!electron.ok) {
    say(`ResLens: cannot start the desktop app: ${electron.reason}. Use the browser mode instead: npm run serve`);
    return 1;
  }
  await buildApp();
  const child = spawn(electron.path, ['.', ...args], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, RESLENS_DEV: process.env.RESLENS_DEV ?? '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

async function dist(args: string[]): Promise<number> {
  await buildApp();
  const { build: builder, Platform } = await import('electron-builder');
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const electronVersion = pkg.devDependencies?.electron;
  if (!electronVersion) throw new Error('electron is not in devDependencies');
  const flags: Record<string, TargetPlatform> = { '--linux': 'linux', '--mac': 'darwin', '--win': 'win32' };
  const requested = args.filter((a) => a in flags).map((a) => flags[a]);
  const platforms: TargetPlatform[] = requested.length > 0 ? requested : [process.platform as TargetPlatform];
  for (const platform of platforms) {
    const target = { linux: Platform.LINUX, darwin: Platform.MAC, win32: Platform.WINDOWS }[platform];
    if (!target) throw new Error(`cannot package for ${platform}`);
    const config = builderConfig(platform, electronVersion);
    // Offline packaging: a folder holding electron-v<version>-<platform>-<arch>.zip (or an unpacked Electron).
    if (process.env.RESLENS_ELECTRON_DIST) Object.assign(config, { electronDist: path.resolve(process.env.RESLENS_ELECTRON_DIST) });
    let files: string[];
    try {
      files = await builder({ targets: target.createTarget(args.includes('--dir') ? 'dir' : null), config, projectDir: REPO_ROOT, publish: 'never' });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|fetch failed|socket hang up/.test(message);
      throw new Error(
        offline
          ? `packaging needs downloads from GitHub (Electron ${electronVersion} for ${platform}, and the AppImage/deb/nsis/dmg tools) and they failed (${message.split('\n')[0]}). Offline: set RESLENS_ELECTRON_DIST to a folder with electron-v${electronVersion}-${platform === 'darwin' ? 'darwin' : platform}-${process.arch}.zip, or ELECTRON_MIRROR to a mirror (see docs/desktop.md)`
          : `packaging failed: ${message}`,
        { cause: error },
      );
    }
    for (const file of files) say(`packaged ${path.relative(REPO_ROOT, file)}`);
  }
  return 0;
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'build':
      await buildApp();
      return 0;
    case 'start':
      return start(args);
    case 'dist':
      return dist(args);
    default:
      say('usage: tsx scripts/electron.ts build | start | dist [--linux|--mac|--win] [--dir]');
      return 2;
  }
}

// Run only as a script (tests import buildBundles).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(REPO_ROOT, 'scripts', 'electron.ts')) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      say(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
