// Electron fuses for the packaged app, flipped in electron-builder's afterPack step (before any
// signing). A fuse is a bit in the Electron binary that no command line, environment variable or
// script can turn back on: with these, the packaged ResLens cannot be used as a general-purpose
// Node runtime (ELECTRON_RUN_AS_NODE), cannot have code injected through NODE_OPTIONS or --inspect,
// and loads only its own, integrity-checked app.asar.
import path from 'node:path';
import { FuseV1Options, FuseVersion, flipFuses } from '@electron/fuses';

/** The fuse settings, one line each with why. */
export const RESLENS_FUSES = {
  // The engine runs in a utilityProcess, never through ELECTRON_RUN_AS_NODE.
  [FuseV1Options.RunAsNode]: false,
  // Cookies on disk encrypted with the OS keystore (the app keeps none, but defaults should be safe).
  [FuseV1Options.EnableCookieEncryption]: true,
  // NODE_OPTIONS=--require evil.js would run code in the main process.
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  // --inspect / --inspect-brk would open a debugger port into the main process.
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  // app.asar is checked against the hash electron-builder embeds (macOS and Windows).
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  // Only resources/app.asar: an `app/` folder planted beside it is ignored.
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  // file:// gets no extra privileges; the app serves itself over app://.
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
} as const;

/** What electron-builder's afterPack hook passes (the parts used here). */
export interface PackedApp {
  appOutDir: string;
  electronPlatformName: string;
  packager: { appInfo: { productFilename: string }; executableName?: string };
}

/** The packaged Electron binary (or .app bundle) inside `appOutDir`. */
export function packagedBinary(context: PackedApp): string {
  const { appOutDir, electronPlatformName, packager } = context;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return path.join(appOutDir, `${packager.appInfo.productFilename}.app`);
  if (electronPlatformName === 'win32') return path.join(appOutDir, `${packager.appInfo.productFilename}.exe`);
  return path.join(appOutDir, packager.executableName ?? packager.appInfo.productFilename);
}

/** electron-builder afterPack hook: flips RESLENS_FUSES in the packaged binary. */
export async function flipPackagedFuses(context: PackedApp): Promise<void> {
  const darwin = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas';
  await flipFuses(packagedBinary(context), { version: FuseVersion.V1, resetAdHocDarwinSignature: darwin && process.arch === 'arm64', ...RESLENS_FUSES });
}
