// Types of bin/huge-pages.js (plain JavaScript so the CLI starts without a TypeScript loader).
export function shouldRelaunch(argv: string[], env?: NodeJS.ProcessEnv, platform?: NodeJS.Platform): boolean;
export function watchParent(): void;
export function relaunch(script: string, argv: string[]): Promise<boolean>;
