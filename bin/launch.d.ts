// Types of bin/launch.js (plain JavaScript so the CLI starts without a TypeScript loader).
export function isFresh(dir: string): boolean;
export function ensureBuilt(target: 'cli' | 'server'): Promise<void>;
export function loadEntry(target: 'cli' | 'server', sourceEntry: string): Promise<Record<string, unknown>>;
