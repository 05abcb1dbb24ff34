// The window's web security rules as pure functions: the Content-Security-Policy, which URLs the
// app:// protocol serves (and from where), what navigation is allowed, and which links may open in
// the OS browser.
import path from 'node:path';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, originOf } from './sender.js';

/**
 * The renderer's Content-Security-Policy. Scripts and styles only from the app itself (no inline
 * script or style element, no eval; the renderer's build is made for this, and style values set
 * from script through CSSOM are not affected). Images may be data:/blob: URLs (thumbnails, crops
 * and heatmaps are made in the page).
 * In development the Vite dev server's origin and its HMR WebSocket are added.
 */
export function contentSecurityPolicy(options: { devServer?: string } = {}): string {
  const dev = options.devServer ? originOf(options.devServer) : null;
  const self = dev ? `'self' ${dev}` : "'self'";
  const connect = dev ? `'self' ${dev} ${dev.replace(/^http/, 'ws')}` : "'self'";
  return [
    `default-src ${self}`,
    `script-src ${self}`,
    `style-src ${self}`,
    `img-src ${self} data: blob:`,
    `font-src ${self} data:`,
    `connect-src ${connect}`,
    `worker-src ${self} blob:`,
    "media-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "child-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The file under `root` that an app://reslens/… URL names, or null when the URL is not ours or
 * leaves the folder (encoded "..", backslashes, NUL). "/" is index.html.
 */
export function resolveAppFile(root: string, url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  if (pathname === '/' || pathname === '') pathname = '/index.html';
  const base = path.resolve(root);
  const file = path.resolve(base, `.${pathname}`);
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  return file;
}

/** The URL the window loads: the dev server in development, else the app's own origin. */
export function startUrl(devServer?: string): string {
  return devServer ? devServer : `${APP_ORIGIN}/index.html`;
}

/** Navigation inside the window is allowed only to the page it already shows (a reload). */
export function isAllowedNavigation(target: string, current: string): boolean {
  const a = originOf(target);
  return a !== null && a === originOf(current) && new URL(target).pathname === new URL(current).pathname;
}

/**
 * Hosts whose pages the app may open in the OS browser: the model catalog's (its models and their
 * model cards live on GitHub) and the documentation the app links to. Any other https URL, however
 * it got into the page (a label, a model's metadata, a compromised renderer), is refused: opening
 * arbitrary URLs hands an attacker the user's default browser and its protocol handlers.
 */
export const EXTERNAL_LINK_HOSTS: readonly string[] = ['github.com', 'onnxruntime.ai', 'pytorch.org', 'docs.pytorch.org', 'arxiv.org'];

/** Links the app hands to the OS browser: https to an allow-listed host only (no file:, javascript:, custom schemes, plain http, credentials). */
export function isExternalLinkAllowed(url: string, hosts: readonly string[] = EXTERNAL_LINK_HOSTS): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && u.username === '' && u.password === '' && (u.port === '' || u.port === '443') && hosts.includes(u.hostname.toLowerCase());
  } catch {
    return false;
  }
}
