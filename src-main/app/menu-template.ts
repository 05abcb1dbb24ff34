// The native menus as data (Electron's MenuItemConstructorOptions, structurally), built by a pure
// function so the shortcuts and the dev-only items are tested without Electron. main.ts passes the
// result to Menu.buildFromTemplate (typechecked there against Electron's own types).
import type { DoctorValue, EngineStatus } from '../api/contract.js';

export interface MenuActions {
  openImages(): void;
  openFolder(): void;
  exportResults(): void;
  toggleTheme(): void;
  about(): void;
}

type Role =
  | 'about'
  | 'services'
  | 'hide'
  | 'hideOthers'
  | 'unhide'
  | 'quit'
  | 'close'
  | 'undo'
  | 'redo'
  | 'cut'
  | 'copy'
  | 'paste'
  | 'selectAll'
  | 'reload'
  | 'forceReload'
  | 'toggleDevTools'
  | 'resetZoom'
  | 'zoomIn'
  | 'zoomOut'
  | 'togglefullscreen'
  | 'minimize'
  | 'zoom'
  | 'front'
  | 'appMenu'
  | 'fileMenu'
  | 'editMenu'
  | 'viewMenu'
  | 'windowMenu'
  | 'help';

export interface MenuItemSpec {
  id?: string;
  label?: string;
  role?: Role;
  type?: 'normal' | 'separator' | 'submenu';
  accelerator?: string;
  click?: () => void;
  submenu?: MenuItemSpec[];
}

const separator: MenuItemSpec = { type: 'separator' };

export function menuTemplate(options: { platform: NodeJS.Platform; dev: boolean; actions: MenuActions }): MenuItemSpec[] {
  const { actions } = options;
  const mac = options.platform === 'darwin';
  const about: MenuItemSpec = { id: 'about', label: 'About ResLens', click: () => actions.about() };
  const menus: MenuItemSpec[] = [];
  if (mac) {
    menus.push({
      label: 'ResLens',
      submenu: [about, separator, { role: 'services' }, separator, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, separator, { role: 'quit' }],
    });
  }
  menus.push({
    label: '&File',
    submenu: [
      { id: 'open-images', label: 'Open Images…', accelerator: 'CmdOrCtrl+O', click: () => actions.openImages() },
      { id: 'open-folder', label: 'Open Folder for Batch…', accelerator: 'CmdOrCtrl+Shift+O', click: () => actions.openFolder() },
      separator,
      { id: 'export', label: 'Export Results…', accelerator: 'CmdOrCtrl+E', click: () => actions.exportResults() },
      separator,
      mac ? { role: 'close' } : { id: 'quit', role: 'quit', label: 'Quit', accelerator: 'Ctrl+Q' },
    ],
  });
  menus.push({
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, separator, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }],
  });
  menus.push({
    label: '&View',
    submenu: [
      ...(options.dev
        ? [{ id: 'reload', role: 'reload' } as MenuItemSpec, { role: 'forceReload' } as MenuItemSpec, { role: 'toggleDevTools' } as MenuItemSpec, separator]
        : []),
      { id: 'toggle-theme', label: 'Toggle Theme', accelerator: 'CmdOrCtrl+Shift+T', click: () => actions.toggleTheme() },
      separator,
      { id: 'zoom-reset', role: 'resetZoom' },
      { id: 'zoom-in', role: 'zoomIn' },
      { id: 'zoom-out', role: 'zoomOut' },
      separator,
      { role: 'togglefullscreen' },
    ],
  });
  if (mac) menus.push({ role: 'windowMenu' });
  menus.push({ label: '&Help', role: 'help', submenu: mac ? [] : [about] });
  return menus;
}

/** The About dialog's detail text: app, runtime and engine versions, the model, and the execution providers (from engine.doctor when it answered). */
export function aboutDetail(appVersion: string, status: EngineStatus | null, doctor: DoctorValue | null, runtime: Record<string, string | undefined>): string {
  const versions: Record<string, string | undefined> = { ...runtime, ...(doctor?.versions ?? {}), ...(status?.versions ?? {}) };
  const lines = [`ResLens ${appVersion}`, ''];
  for (const [label, key] of [
    ['Electron', 'electron'],
    ['Chromium', 'chrome'],
    ['Node.js', 'node'],
    ['ONNX Runtime', 'onnxruntime'],
    ['sharp', 'sharp'],
    ['libvips', 'libvips'],
  ] as const) {
    if (versions[key]) lines.push(`${label}: ${versions[key]}`);
  }
  lines.push('');
  const model = status?.model;
  if (model) {
    lines.push(`Model: ${model.title}${model.pretrained ? '' : ' (not a catalog model)'}`);
    lines.push(`Running on: ${model.epLabel}`);
  } else {
    lines.push(status ? 'No model loaded yet.' : 'The engine did not answer.');
  }
  if (doctor) {
    lines.push('', `Backend: ${doctor.backend}`, `CPU: ${doctor.cpu.model} (${doctor.cpu.threads} threads)`);
    if (doctor.gpus.length > 0) lines.push(`GPU: ${doctor.gpus.map((g) => g.name).join(', ')}`);
    lines.push('Execution providers:');
    for (const p of doctor.providers) lines.push(`  ${p.ok ? '✓' : '✗'} ${p.title}${p.ok ? '' : ` — ${p.reason ?? p.status ?? 'unavailable'}`}`);
  } else if (model) {
    const attempts = model.epAttempts.map((a) => `${a.ep}${a.ok ? ' ✓' : ` ✗${a.reason ? ` (${a.reason})` : ''}`}`);
    if (attempts.length > 0) lines.push(`Execution providers tried: ${attempts.join(', ')}`);
  }
  if (status?.notice) lines.push('', status.notice);
  return lines.join('\n');
}
