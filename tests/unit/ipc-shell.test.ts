// The desktop shell's other pieces: the built preload bundle (what the page gets, and how it talks
// to main), the web security rules (CSP, app:// file serving, navigation, external links), the
// menus, the About text, and the engine process's message parser.
//
// The preload runs for real (dist bundle, sandbox-style `require` that knows only 'electron'); the
// `electron` module it gets is the stand-in for the Electron binary (tests/helpers/electron-stand-in.ts),
// wired to main's real IPC handlers, grant registry and a real EngineService.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorValue, EngineStatus, HostApi, RequestName, RequestParams, ReslensApi } from '../../src-main/api/contract.js';
import { parseEngineMessage } from '../../src-main/app/engine-protocol.js';
import { GrantRegistry } from '../../src-main/app/grants.js';
import { registerIpc } from '../../src-main/app/ipc-main.js';
import { type MenuItemSpec, aboutDetail, menuTemplate } from '../../src-main/app/menu-template.js';
import { APP_ORIGIN, trustedSender } from '../../src-main/app/sender.js';
import { contentSecurityPolicy, isAllowedNavigation, isExternalLinkAllowed, resolveAppFile, startUrl } from '../../src-main/app/web-security.js';
import { EngineService } from '../../src-main/service/engine-service.js';
import { buildBundles } from '../../scripts/electron.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { ElectronDialogsStandIn, ElectronIpcMainStandIn, type StandInFile, electronPreloadModuleStandIn } from '../helpers/electron-stand-in.js';

describe('the preload bundle', () => {
  let dir: string;
  let service: EngineService;
  let photo: string;
  let page: ReturnType<typeof electronPreloadModuleStandIn>;
  let reslens: { api: ReslensApi; host: HostApi };
  let preloadSource: string;
  const engineCalls: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reslens-preload-'));
    photo = path.join(dir, 'cat.jpg');
    await writeFile(photo, await photoLike(300, 200, 'jpeg'));
    const { preload } = await buildBundles({ outDir: path.join(dir, 'app'), only: ['preload'] });
    preloadSource = await readFile(preload, 'utf8');

    const grants = new GrantRegistry();
    service = new EngineService({
      host: {
        resolveImage: (id) => {
          const g = grants.lookup(id, 'image');
          return g ? { path: g.path, name: g.name } : undefined;
        },
        resolveFolder: (id) => grants.lookup(id, 'folder')?.path,
        emit() {},
      },
      modelsDir: path.join(dir, 'models'),
    });
    const ipc = new ElectronIpcMainStandIn();
    registerIpc(ipc, {
      isTrustedSender: trustedSender([APP_ORIGIN]),
      grants,
      dialogs: new ElectronDialogsStandIn(),
      engine: {
        handle<N extends RequestName>(method: N, params: RequestParams<N>) {
          engineCalls.push(method);
          return service.handle(method, params);
        },
      },
    });
    page = electronPreloadModuleStandIn(ipc, { url: `${APP_ORIGIN}/index.html`, parent: null });
    // A sandboxed preload's require knows 'electron' only.
    const sandboxRequire = (id: string) => {
      if (id === 'electron') return page.module;
      throw new Error(`module not found: ${id}`);
    };
    const module = { exports: {} };
    new Function('require', 'module', 'exports', preloadSource)(sandboxRequire, module, module.exports);
    reslens = page.exposed.reslens as typeof reslens;
  });

  afterAll(async () => {
    await service?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('requires nothing but electron, and exposes exactly { api, host } with the contract methods', () => {
    expect([...preloadSource.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(Object.keys(page.exposed)).toEqual(['reslens']);
    expect(Object.keys(reslens).sort()).toEqual(['api', 'host']);
    expect(Object.keys(reslens.api).sort()).toEqual(['call', 'on']);
    expect(Object.keys(reslens.host).sort()).toEqual(['addFiles', 'kind', 'onCommand', 'pickFolder', 'saveFile', 'showResult']);
    expect(reslens.host.kind).toBe('electron');
    // No channel names or generic senders leak out.
    expect(JSON.stringify(Object.values(reslens.api).map(String))).not.toMatch(/ipcRenderer\.send\(/);
  });

  it('api.call goes through main to the engine; errors arrive as plain { code, message } values', async () => {
    const status = (await reslens.api.call('engine.status', {})) as EngineStatus;
    expect(status.model).toBeNull();
    expect(engineCalls).toContain('engine.status');
    const error = await reslens.api.call('images.thumbnail', { image: 'img_AAAAAAAAAAAAAAAAAAAAAAAA', size: 64 }).catch((e: unknown) => e);
    expect(error).toEqual({ code: 'NOT_GRANTED', message: expect.any(String) });
    expect(error).not.toBeInstanceOf(Error);
  });

  it('host.addFiles sends only real paths (webUtils.getPathForFile), and the ids work', async () => {
    const dropped: StandInFile = { name: 'cat.jpg', nativePath: photo };
    const madeByPage: StandInFile = { name: 'fake.jpg', nativePath: '' };
    expect(await reslens.host.addFiles([madeByPage] as unknown as File[])).toEqual([]);
    const added = await reslens.host.addFiles([dropped, madeByPage] as unknown as File[]);
    expect(added).toEqual([{ image: expect.stringMatching(/^img_/), name: 'cat.jpg' }]);
    const thumb = await reslens.api.call('images.thumbnail', { image: added[0].image, size: 48 });
    expect(thumb.jpeg).toBeInstanceOf(Uint8Array);
  });

  it('events and menu commands reach subscribers until they unsubscribe; unknown events are refused', () => {
    const seen: unknown[] = [];
    const off = reslens.api.on('engine.status', (s) => seen.push(s));
    const offCommand = reslens.host.onCommand?.((c) => seen.push(c)) as () => void;
    page.send('reslens:event', { event: 'engine.status', payload: { model: null, versions: {} } });
    page.send('reslens:event', { event: 'batch.progress', payload: {} });
    page.send('reslens:command', { kind: 'export' });
    expect(seen).toEqual([{ model: null, versions: {} }, { kind: 'export' }]);
    off();
    offCommand();
    expect(page.listenerCount('reslens:event')).toBe(0);
    expect(page.listenerCount('reslens:command')).toBe(0);
    expect(() => reslens.api.on('secrets' as 'engine.status', () => undefined)).toThrow(/unknown event/);
  });
});

describe('web security', () => {
  it('CSP: scripts from the app only, no objects, frames, forms or base changes', () => {
    const csp = contentSecurityPolicy();
    const directives = Object.fromEntries(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives['default-src']).toBe("'self'");
    expect(directives['script-src']).toBe("'self'");
    expect(directives['object-src']).toBe("'none'");
    expect(directives['frame-src']).toBe("'none'");
    expect(directives['base-uri']).toBe("'none'");
    expect(directives['form-action']).toBe("'none'");
    expect(directives['style-src']).toBe("'self'");
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline|\*/);
    const dev = contentSecurityPolicy({ devServer: 'http://127.0.0.1:5173/' });
    expect(dev).toMatch(/script-src 'self' http:\/\/127\.0\.0\.1:5173;/);
    expect(dev).toMatch(/connect-src 'self' http:\/\/127\.0\.0\.1:5173 ws:\/\/127\.0\.0\.1:5173;/);
  });

  it('app:// serves files inside the renderer folder only', () => {
    const root = path.resolve('/opt/reslens/renderer');
    expect(resolveAppFile(root, 'app://reslens/')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://reslens/assets/index-abc.js')).toBe(path.join(root, 'assets', 'index-abc.js'));
    expect(resolveAppFile(root, 'app://reslens/a%20b.css')).toBe(path.join(root, 'a b.css'));
    for (const url of [
      'app://reslens/../../etc/passwd',
      'app://reslens/%2e%2e/%2e%2e/etc/passwd',
      'app://reslens/..%2f..%2fetc%2fpasswd',
      'app://reslens/assets/..%5c..%5cwin.ini',
      'app://reslens/x%00.js',
      'app://reslens/%E0%A4%A',
      'app://other/index.html',
      'file:///etc/passwd',
      'https://reslens/index.html',
      'not a url',
    ]) {
      const file = resolveAppFile(root, url);
      if (file !== null) expect(file.startsWith(root + path.sep)).toBe(true);
    }
    // Encoded separators survive URL parsing and would climb out after decoding: refused.
    expect(resolveAppFile(root, 'app://reslens/..%2f..%2fetc%2fpasswd')).toBeNull();
    expect(resolveAppFile(root, 'app://reslens/assets/..%5c..%5cwin.ini')).toBeNull();
    expect(resolveAppFile(root, 'app://other/index.html')).toBeNull();
    expect(startUrl()).toBe('app://reslens/index.html');
  });

  it('navigation stays on the page; only https links go to the OS browser', () => {
    const here = 'app://reslens/index.html';
    expect(isAllowedNavigation('app://reslens/index.html', here)).toBe(true);
    expect(isAllowedNavigation('app://reslens/other.html', here)).toBe(false);
    expect(isAllowedNavigation('https://example.com/', here)).toBe(false);
    expect(isAllowedNavigation('file:///tmp/dropped.jpg', here)).toBe(false);
    expect(isExternalLinkAllowed('https://github.com/onnx/models')).toBe(true);
    // Issue 14 #16: only allow-listed hosts (the catalog's, the docs'), not any https URL.
    expect(isExternalLinkAllowed('https://onnxruntime.ai/docs/')).toBe(true);
    for (const url of ['https://evil.example/phish', 'https://github.com.evil.example/', 'https://github.com:8443/x', 'https://xn--github-xxx.com/'])
      expect(isExternalLinkAllowed(url), url).toBe(false);
    for (const url of [
      'http://example.com',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'smb://host/share',
      'https://user:pw@example.com/',
      'ms-settings:',
      'not a url',
    ]) {
      expect(isExternalLinkAllowed(url)).toBe(false);
    }
  });
});

describe('menus and About', () => {
  const actions = {
    openImages: () => undefined,
    openFolder: () => undefined,
    exportResults: () => undefined,
    toggleTheme: () => undefined,
    about: () => undefined,
  };
  const flatten = (items: MenuItemSpec[]): MenuItemSpec[] => items.flatMap((i) => [i, ...flatten(i.submenu ?? [])]);

  it('has the usual shortcuts on every platform', () => {
    for (const platform of ['linux', 'win32', 'darwin'] as const) {
      const items = flatten(menuTemplate({ platform, dev: false, actions }));
      const byId = (id: string) => items.find((i) => i.id === id);
      expect(byId('open-images')?.accelerator).toBe('CmdOrCtrl+O');
      expect(byId('open-folder')?.accelerator).toBe('CmdOrCtrl+Shift+O');
      expect(byId('export')?.accelerator).toBe('CmdOrCtrl+E');
      expect(byId('toggle-theme')).toBeDefined();
      expect(byId('about')).toBeDefined();
      expect(items.some((i) => i.role === 'quit')).toBe(true);
      expect(items.filter((i) => i.role === 'zoomIn' || i.role === 'zoomOut' || i.role === 'resetZoom')).toHaveLength(3);
      const accelerators = items.map((i) => i.accelerator).filter(Boolean);
      expect(new Set(accelerators).size).toBe(accelerators.length);
    }
  });

  it('Reload and DevTools exist in development only', () => {
    const roles = (dev: boolean) => flatten(menuTemplate({ platform: 'linux', dev, actions })).map((i) => i.role);
    expect(roles(false)).not.toContain('reload');
    expect(roles(false)).not.toContain('toggleDevTools');
    expect(roles(true)).toContain('reload');
    expect(roles(true)).toContain('toggleDevTools');
  });

  it('menu items call their actions', () => {
    const calls: string[] = [];
    const spying = Object.fromEntries(Object.keys(actions).map((k) => [k, () => calls.push(k)])) as unknown as typeof actions;
    for (const item of flatten(menuTemplate({ platform: 'linux', dev: false, actions: spying }))) item.click?.();
    expect(calls.sort()).toEqual(['about', 'exportResults', 'openFolder', 'openImages', 'toggleTheme']);
  });

  it('About lists versions, the model and its execution providers', () => {
    const status: EngineStatus = {
      model: {
        name: 'resnet50-v1',
        title: 'ResNet-50 v1',
        pretrained: true,
        classes: 1000,
        params: 25_000_000,
        macs: 4e9,
        ep: 'cpu',
        epLabel: 'CPU · 2 threads',
        epAttempts: [
          { ep: 'cuda', ok: false, reason: 'libcudart.so.12 not found' },
          { ep: 'cpu', ok: true },
        ],
        threads: 2,
        featuresAvailable: true,
      },
      versions: { onnxruntime: '1.29.0', sharp: '0.35.5', node: '22.1.0' },
    };
    const text = aboutDetail('0.1.0', status, null, { electron: '45.4.1', chrome: '140.0.0.0' });
    expect(text).toMatch(/ResLens 0\.1\.0/);
    expect(text).toMatch(/Electron: 45\.4\.1/);
    expect(text).toMatch(/ONNX Runtime: 1\.29\.0/);
    expect(text).toMatch(/Running on: CPU · 2 threads/);
    expect(text).toMatch(/cuda ✗ \(libcudart\.so\.12 not found\), cpu ✓/);
    expect(aboutDetail('0.1.0', null, null, {})).toMatch(/did not answer/);
    const doctor: DoctorValue = {
      backend: 'CPU · 2 threads',
      providers: [
        { ep: 'cuda', title: 'CUDA', ok: false, reason: 'libcudart.so.12 not found', bundled: false, inAuto: true },
        { ep: 'cpu', title: 'CPU', ok: true, bundled: true, inAuto: true },
      ],
      autoOrder: ['cuda', 'webgpu', 'cpu'],
      cpu: { model: 'AMD EPYC', threads: 2 },
      gpus: [],
      versions: { onnxruntime: '1.29.0' },
    };
    const withDoctor = aboutDetail('0.1.0', status, doctor, {});
    expect(withDoctor).toMatch(/CPU: AMD EPYC \(2 threads\)/);
    expect(withDoctor).toMatch(/✗ CUDA — libcudart\.so\.12 not found/);
    expect(withDoctor).toMatch(/✓ CPU/);
  });
});

describe('engine process messages', () => {
  it('accepts the protocol and drops anything else', () => {
    expect(parseEngineMessage({ kind: 'ready', pid: 5 })).toEqual({ kind: 'ready', pid: 5 });
    expect(parseEngineMessage({ kind: 'response', id: 1, ok: true, result: [1] })).toEqual({ kind: 'response', id: 1, ok: true, result: [1] });
    expect(parseEngineMessage({ kind: 'response', id: 1, ok: false, error: { code: 'X', message: 'y', extra: 1 } })).toEqual({
      kind: 'response',
      id: 1,
      ok: false,
      error: { code: 'X', message: 'y' },
    });
    expect(parseEngineMessage({ kind: 'event', event: 'engine.status', payload: {} })).toMatchObject({ kind: 'event', event: 'engine.status' });
    for (const bad of [
      null,
      'x',
      { kind: 'event', event: 'shell.exec' },
      { kind: 'response', id: '1', ok: true },
      { kind: 'response', id: 1, ok: false, error: 'boom' },
      { kind: 'grant' },
    ]) {
      expect(parseEngineMessage(bad)).toBeNull();
    }
  });
});
