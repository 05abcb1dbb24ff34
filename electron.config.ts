// The one build configuration for the desktop app: how the three JavaScript bundles are made
// (esbuild), where the renderer comes from (the renderer's own Vite build), and how
// electron-builder packages it all. scripts/electron.ts runs it: `npm run build:app`, `npm start`,
// `npm run dist` (docs/desktop.md).
//
//   dist/app/main.cjs      main process (src-main/app/electron/main.ts): window, menus, dialogs, IPC
//   dist/app/preload.cjs   preload (src-main/app/electron/preload.ts): window.reslens = { api, host }
//   dist/app/engine.cjs    engine process (src-main/app/engine-main.ts), run by utilityProcess
//   dist/app/preprocess-worker*.{js,mjs}   the engine's preprocessing worker threads
//   dist/renderer/         the UI, built by the renderer's Vite config (npm run build:renderer)
//
// The three entries are CommonJS: a sandboxed preload must be, and CJS entries load the same way in
// Electron's main process, its utilityProcess and plain Node (the tests fork engine.cjs). The
// engine's modules use import.meta.url (to find models/catalog.json by walking up); in CJS output
// it is defined from __filename by a one-line banner.
import type { Configuration } from 'electron-builder';
import type { BuildOptions } from 'esbuild';
import { builtinModules } from 'node:module';
import { type PackedApp, flipPackagedFuses } from './scripts/electron-fuses.js';

export const paths = {
  /** Bundles of main, preload and the engine process. */
  appOut: 'dist/app',
  /** The renderer's build output (owned by the renderer's Vite config). */
  rendererOut: 'dist/renderer',
  /** Installers and unpacked apps. */
  packagesOut: 'dist/packages',
  /** Icons and other packaging resources. */
  buildResources: 'build',
} as const;

/** Native modules: loaded by path at run time, so never bundled (and unpacked from the asar archive). */
export const nativeExternals = ['onnxruntime-node', 'sharp'] as const;

/**
 * BullMQ's other back ends (Valkey GLIDE, PostgreSQL): it require()s their clients inside try blocks
 * only when a run picks them, so esbuild leaves the names unresolved. ResLens's queue speaks Redis
 * through ioredis (bundled), so these requires never run; they are listed, not silently allowed.
 */
const unusedQueueBackends = ['@valkey/valkey-glide', 'pg'] as const;

const importMetaShim = {
  define: { 'import.meta.url': '__reslens_import_meta_url' },
  banner: { js: "const __reslens_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // Electron 45 ships Node 22; node20 keeps the engine bundle runnable by the tests' plain Node 20.
  target: 'node20',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
};

export type BundleName = 'main' | 'preload' | 'engine' | 'worker';

/** The esbuild options of each bundle, and which packages each may load at run time (checked after the build). */
export const bundles: Record<BundleName, { options: BuildOptions; mayRequire: (specifier: string) => boolean; copy?: string[] }> = {
  main: {
    options: {
      ...common,
      ...importMetaShim,
      entryPoints: ['src-main/app/electron/main.ts'],
      outfile: `${paths.appOut}/main.cjs`,
      external: ['electron', ...nativeExternals],
    },
    // The main process must never load the engine (onnxruntime blocks the thread that calls it).
    mayRequire: (s) => s === 'electron' || isBuiltin(s),
  },
  preload: {
    // Sandboxed: require() knows only 'electron' (and a few polyfills), so everything else is inlined and nothing Node-only may be used.
    options: {
      ...common,
      entryPoints: ['src-main/app/electron/preload.ts'],
      outfile: `${paths.appOut}/preload.cjs`,
      external: ['electron'],
      platform: 'browser',
      target: 'chrome130',
    },
    mayRequire: (s) => s === 'electron',
  },
  engine: {
    options: {
      ...common,
      ...importMetaShim,
      entryPoints: ['src-main/app/engine-main.ts'],
      outfile: `${paths.appOut}/engine.cjs`,
      external: [...nativeExternals],
    },
    mayRequire: (s) => nativeExternals.includes(s as never) || unusedQueueBackends.includes(s as never) || isBuiltin(s),
  },
  // The batch pipeline's preprocessing threads: the engine starts them from files beside its own
  // (new URL('./preprocess-worker-boot.mjs', import.meta.url), which then imports
  // ./preprocess-worker.js), so they are built and copied next to engine.cjs. ESM, as the boot file
  // imports it; bundled CommonJS dependencies get a require() from createRequire.
  worker: {
    options: {
      ...common,
      format: 'esm',
      entryPoints: ['src-main/engine/batch/preprocess-worker.ts'],
      outfile: `${paths.appOut}/preprocess-worker.js`,
      external: [...nativeExternals],
      banner: { js: "import { createRequire as __reslensCreateRequire } from 'node:module'; const require = __reslensCreateRequire(import.meta.url);" },
    },
    copy: ['src-main/engine/batch/preprocess-worker-boot.mjs'],
    mayRequire: (s) => nativeExternals.includes(s as never) || isBuiltin(s),
  },
};

function isBuiltin(specifier: string): boolean {
  return builtinModules.includes(specifier.replace(/^node:/, ''));
}

export type TargetPlatform = 'linux' | 'darwin' | 'win32';

/** onnxruntime-node ships every platform's binaries (~280 MB); a package keeps only its own. */
function otherPlatformOnnxRuntime(platform: TargetPlatform): string[] {
  return (['linux', 'darwin', 'win32'] as const).filter((p) => p !== platform).map((p) => `!node_modules/onnxruntime-node/bin/napi-v*/${p}/**`);
}

/** electron-builder's configuration for one target platform. */
export function builderConfig(platform: TargetPlatform, electronVersion: string): Configuration {
  return {
    appId: 'app.reslens.desktop',
    productName: 'ResLens',
    copyright: 'Copyright © ResLens contributors. MIT licence.',
    electronVersion,
    directories: { output: paths.packagesOut, buildResources: paths.buildResources },
    // Main's entry inside the package (package.json "main" says the same for `electron .`).
    extraMetadata: { main: `${paths.appOut}/main.cjs` },
    files: [
      `${paths.appOut}/**`,
      `${paths.rendererOut}/**`,
      'package.json',
      // Bundled into dist/app already, or build-time only: production dependencies the app never loads.
      '!node_modules/{tsx,esbuild,@esbuild,commander,cli-progress,ws,@msgpack,protobufjs,zod,colormap,env-paths}/**',
      ...otherPlatformOnnxRuntime(platform),
    ],
    asar: true,
    // Native code is loaded by path (dlopen), which cannot read inside an asar archive.
    asarUnpack: [
      'node_modules/onnxruntime-node/bin/**/*.{node,so,dylib,dll}',
      'node_modules/onnxruntime-node/bin/**/*.so.*',
      'node_modules/sharp/**/*.node',
      'node_modules/@img/**/*.{node,so,dylib,dll}',
      'node_modules/@img/**/*.so.*',
    ],
    // N-API modules: the same binaries work in Electron, nothing to rebuild.
    npmRebuild: false,
    // Electron fuses (scripts/electron-fuses.ts): no RunAsNode, NODE_OPTIONS or --inspect; asar only, integrity-checked.
    afterPack: (context) => flipPackagedFuses(context as unknown as PackedApp),
    // The catalog and the ImageNet labels ship with the app (found by walking up from the engine
    // bundle: resources/app.asar/dist/app → resources/models). Downloaded models live in the user's
    // model store, never in the package.
    extraResources: [{ from: 'models', to: 'models', filter: ['catalog.json', 'imagenet_classes.txt'] }],
    linux: {
      target: ['AppImage', 'deb'],
      category: 'Graphics',
      icon: `${paths.buildResources}/icons`,
      maintainer: 'ResLens contributors',
      synopsis: 'See what a deep residual network sees',
    },
    deb: { packageCategory: 'graphics' },
    mac: { target: ['dmg'], category: 'public.app-category.graphics-design', icon: `${paths.buildResources}/icon.png` },
    dmg: { title: 'ResLens ${version}' },
    win: { target: ['nsis'], icon: `${paths.buildResources}/icon.ico` },
    nsis: { oneClick: false, allowToChangeInstallationDirectory: true, perMachine: false },
    publish: null,
  };
}

/** Kept for the packaging facts the engine relies on (README); the full configuration is builderConfig(). */
export const electronConfig = {
  appId: 'app.reslens.desktop',
  productName: 'ResLens',
  external: nativeExternals,
  extraResources: [{ from: 'models', to: 'models', filter: ['catalog.json', 'imagenet_classes.txt'] }],
} as const;

export default electronConfig;
