// The desktop app's main process: one window, native menus and dialogs, the IPC handlers, and the
// engine in a utilityProcess. Main itself never runs inference (onnxruntime blocks its thread).
//
// Process layout:
//   main (this)  ── ipcMain (validated, sender-checked) ──  renderer (sandboxed, preload → window.reslens)
//        └── utilityProcess "ResLens engine" (engine.cjs: EngineService; restarted if it dies)
//
// Bundled to dist/app/main.cjs by scripts/electron.ts (see electron.config.ts).
import { BrowserWindow, Menu, app, dialog, ipcMain, nativeTheme, session, shell } from 'electron';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DoctorValue, EngineStatus, HostCommand } from '../../api/contract.js';
import type { PushChannel, PushChannels } from '../channels.js';
import { EngineBridge } from '../engine-bridge.js';
import { GrantRegistry } from '../grants.js';
import { type Dialogs, hostActions, registerIpc } from '../ipc-main.js';
import { aboutDetail, menuTemplate } from '../menu-template.js';
import { APP_ORIGIN, trustedSender } from '../sender.js';
import { utilityEngineLauncher } from './engine-process.js';
import { contentSecurityPolicy, createMainWindow, hardenContents, hardenSession, registerAppScheme, serveRenderer } from './window.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (message: string) => process.stderr.write(`reslens: ${message}\n`);

// Development only: RESLENS_DEV_SERVER_URL points the window at the renderer's Vite dev server.
const devServer = !app.isPackaged ? process.env.RESLENS_DEV_SERVER_URL || undefined : undefined;
const dev = !app.isPackaged && (devServer !== undefined || process.env.RESLENS_DEV === '1');
// The built UI is what app://reslens serves (and what gets the API): a packaged app never takes another from the environment.
const rendererRoot = (!app.isPackaged && process.env.RESLENS_RENDERER_DIR) || path.join(here, '..', 'renderer');
const csp = contentSecurityPolicy({ devServer });

app.setName('ResLens');
// Separate profiles for tests running side by side (Playwright sets this).
if (process.env.RESLENS_USER_DATA_DIR) app.setPath('userData', process.env.RESLENS_USER_DATA_DIR);
// The engine process (which inherits this environment) keeps batch runs beside the app's own state.
process.env.RESLENS_DATA_DIR ||= app.getPath('userData');
app.enableSandbox();
registerAppScheme();

let mainWindow: BrowserWindow | undefined;

function push<C extends PushChannel>(channel: C, payload: PushChannels[C]): void {
  if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(channel, payload);
}
const command = (c: HostCommand) => push('reslens:command', c);

const grants = new GrantRegistry({ onGrant: (grant) => bridge.grant(grant) });
const bridge = new EngineBridge({
  launch: utilityEngineLauncher(path.join(here, 'engine.cjs'), log),
  grants: () => grants.all(),
  onEvent: (message) => push('reslens:event', message),
  hostVersions: { electron: process.versions.electron, chrome: process.versions.chrome, node: process.versions.node },
  log,
});

const parentWindow = () => (mainWindow && !mainWindow.isDestroyed() ? mainWindow : undefined);
const dialogs: Dialogs = {
  async openImages() {
    const options: Electron.OpenDialogOptions = {
      title: 'Open Images',
      properties: ['openFile', 'multiSelections'],
      filters: [
        { name: 'Images', extensions: ['jpg', 'jpeg', 'png', 'webp', 'tif', 'tiff', 'gif', 'avif'] },
        { name: 'All files', extensions: ['*'] },
      ],
    };
    const win = parentWindow();
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled ? [] : result.filePaths;
  },
  async openFolder() {
    const options: Electron.OpenDialogOptions = { title: 'Open Folder for Batch', properties: ['openDirectory'] };
    const win = parentWindow();
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled || result.filePaths.length === 0 ? null : result.filePaths[0];
  },
  async saveFile(defaultName) {
    const options: Electron.SaveDialogOptions = { title: 'Save', defaultPath: path.join(app.getPath('downloads'), defaultName) };
    const win = parentWindow();
    const result = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
    return result.canceled || !result.filePath ? null : result.filePath;
  },
};

const ipcDeps = {
  isTrustedSender: trustedSender(devServer ? [APP_ORIGIN, devServer] : [APP_ORIGIN]),
  engine: bridge,
  grants,
  dialogs,
  log,
  showItemInFolder: (file: string) => shell.showItemInFolder(file),
};
const actions = hostActions(ipcDeps);

/** Asks the engine, giving up after `ms` (About must open even while the engine is busy or down). */
function ask<T>(method: 'engine.status' | 'engine.doctor', ms: number): Promise<T | null> {
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));
  return Promise.race([
    bridge
      .handle(method, {})
      .then((value) => value as T)
      .catch(() => null),
    timeout,
  ]);
}

// engine.doctor probes every execution provider (seconds); its answer is kept until the engine restarts.
let doctorCache: { restarts: number; value: DoctorValue } | undefined;

async function showAbout(): Promise<void> {
  const doctorRequest =
    doctorCache && doctorCache.restarts === bridge.restarts
      ? Promise.resolve(doctorCache.value)
      : ask<DoctorValue>('engine.doctor', 8000).then((value) => {
          if (value) doctorCache = { restarts: bridge.restarts, value };
          return value;
        });
  const [status, doctor] = await Promise.all([ask<EngineStatus>('engine.status', 3000), doctorRequest]);
  const options: Electron.MessageBoxOptions = {
    type: 'info',
    title: 'About ResLens',
    message: 'ResLens',
    detail: aboutDetail(app.getVersion(), status, doctor, process.versions),
    buttons: ['OK'],
  };
  const win = parentWindow();
  if (win) await dialog.showMessageBox(win, options);
  else await dialog.showMessageBox(options);
}

function report(what: string) {
  return (error: unknown) => log(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
}

function buildMenu(): void {
  const template = menuTemplate({
    platform: process.platform,
    dev,
    actions: {
      openImages: () => {
        actions.openImages().then((images) => {
          if (images.length > 0) command({ kind: 'images.added', images });
        }, report('Open Images'));
      },
      openFolder: () => {
        actions.pickFolder().then((folder) => {
          if (folder) command({ kind: 'folder.picked', folder });
        }, report('Open Folder'));
      },
      exportResults: () => command({ kind: 'export' }),
      toggleTheme: () => {
        nativeTheme.themeSource = nativeTheme.shouldUseDarkColors ? 'light' : 'dark';
        command({ kind: 'theme', theme: nativeTheme.shouldUseDarkColors ? 'dark' : 'light' });
      },
      about: () => void showAbout().catch(report('About')),
    },
  });
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function openWindow(): void {
  const icon = path.join(here, '..', '..', 'build', 'icon.png');
  mainWindow = createMainWindow({ preload: path.join(here, 'preload.cjs'), devServer, ...(existsSync(icon) ? { icon } : {}) });
  mainWindow.webContents.on('render-process-gone', (_event, details) => {
    log(`window renderer gone (${details.reason}); reloading`);
    if (details.reason !== 'clean-exit' && mainWindow && !mainWindow.isDestroyed()) mainWindow.reload();
  });
  mainWindow.on('closed', () => {
    mainWindow = undefined;
  });
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, log));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (app.isReady() && BrowserWindow.getAllWindows().length === 0) openWindow();
  });
  app.on('before-quit', () => bridge.stop());

  void app.whenReady().then(() => {
    if (!devServer && !existsSync(path.join(rendererRoot, 'index.html'))) {
      dialog.showErrorBox('ResLens', `The user interface is not built (no ${path.join(rendererRoot, 'index.html')}). Run "npm run build:app" first.`);
      app.exit(1);
      return;
    }
    hardenSession(session.defaultSession, csp);
    serveRenderer(rendererRoot, csp);
    registerIpc(ipcMain, ipcDeps, actions);
    bridge.start();
    buildMenu();
    openWindow();
  });
}
