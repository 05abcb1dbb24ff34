// Which frames may talk to main: the app's own page, loaded from app://reslens (packaged and
// built), or the Vite dev server's origin in development. Checked on every IPC message, since
// anything else that ever gets a frame into the window (an iframe, a navigation that slipped
// through) must not reach the engine or the file grants.

/** The app's own scheme and host: the renderer is served from app://reslens/ by a protocol handler. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'reslens';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** The minimum of Electron's WebFrameMain this needs. */
export interface SenderFrameLike {
  url: string;
  parent: unknown;
}

/** `scheme://host[:port]` of a URL, also for non-special schemes (whose WHATWG origin is "null"), or null. */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    if (!u.host) return null;
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

/** A predicate over sender frames: top-level frames of one of the allowed origins only. */
export function trustedSender(allowedOrigins: readonly string[]): (frame: SenderFrameLike | null | undefined) => boolean {
  const allowed = new Set(allowedOrigins.map((o) => originOf(o)).filter((o): o is string => o !== null));
  return (frame) => {
    if (!frame || typeof frame.url !== 'string') return false;
    if (frame.parent !== null && frame.parent !== undefined) return false;
    const origin = originOf(frame.url);
    return origin !== null && allowed.has(origin);
  };
}
