// The window and the web security around it: the app:// protocol that serves the built renderer
// (with its CSP header), the session's permission and header rules, and the navigation rules every
// web contents gets.
import { BrowserWindow, type Session, type WebContents, net, protocol, shell } from 'electron';
import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { APP_SCHEME } from '../sender.js';
import { contentSecurityPolicy, isAllowedNavigation, isExternalLinkAllowed, resolveAppFile, startUrl } from '../web-security.js';

/** Must run before the app is ready: app:// behaves like https (standard, secure, fetch-able). */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serves files of the built renderer on app://reslens/, each response with the CSP. */
export function serveRenderer(root: string, csp: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppFile(root, request.url);
    if (!file || !statSync(file, { throwIfNoEntry: false })?.isFile())
      return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', csp);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(response.body, { status: response.status, headers });
  });
}

/** Session rules: no permissions (camera, notifications, …), no downloads, CSP on every response (also the dev server's). */
export function hardenSession(session: Session, csp: string): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.on('will-download', (event) => event.preventDefault());
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
}

/** Navigation rules for any web contents: stay on the page, no new windows, https links to the OS browser. */
export function hardenContents(contents: WebContents, log: (message: string) => void): void {
  const guard = (event: { preventDefault(): void; url: string }) => {
    if (!isAllowedNavigation(event.url, contents.getURL())) {
      event.preventDefault();
      log(`blocked navigation to ${event.url.slice(0, 200)}`);
    }
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalLinkAllowed(url)) void shell.openExternal(url);
    else log(`blocked a new window for ${url.slice(0, 200)}`);
    return { action: 'deny' };
  });
}

export interface WindowOptions {
  preload: string;
  devServer?: string;
  icon?: string;
}

export function createMainWindow(options: WindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 720,
    minHeight: 520,
    title: 'ResLens',
    show: false,
    ...(options.icon ? { icon: options.icon } : {}),
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(startUrl(options.devServer));
  return window;
}

export { contentSecurityPolicy };
