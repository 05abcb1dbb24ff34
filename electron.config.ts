// The one build configuration for the desktop app (main, preload and renderer bundles, and
// electron-builder packaging). The desktop shell is not built yet: the engine and CLI run from
// source through tsx. This file records the packaging facts the engine already depends on so the
// desktop issue starts from them.
export const electronConfig = {
  appId: 'app.reslens.desktop',
  productName: 'ResLens',
  /** Native modules load binaries by path at run time, so they must live outside the asar archive. */
  asarUnpack: ['node_modules/onnxruntime-node/**', 'node_modules/sharp/**', 'node_modules/@img/**'],
  /** Kept external by the bundler: loaded dynamically from bin/napi-v6/<platform>/<arch>/. */
  external: ['onnxruntime-node', 'sharp'],
  /** The ImageNet labels and the catalog ship with the app; downloaded weights do not. */
  extraResources: [{ from: 'models', to: 'models', filter: ['catalog.json', 'imagenet_classes.txt'] }],
} as const;

export default electronConfig;
