// `npm run serve` from a checkout: build the renderer when dist/renderer is missing or older than
// its sources, so the page always matches the code. Vite is a development dependency, loaded only then.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

async function newestMtime(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(target)) newest = Math.max(newest, await newestMtime(path.join(target, entry)));
  return newest;
}

export async function ensureRendererBuilt(options: { repoRoot: string; outDir: string; log: (line: string) => void }): Promise<void> {
  const { repoRoot, outDir, log } = options;
  const sources = [
    path.join(repoRoot, 'src-renderer'),
    path.join(repoRoot, 'vite.renderer.config.ts'),
    path.join(repoRoot, 'src-main', 'api', 'contract.ts'),
    path.join(repoRoot, 'src-main', 'server', 'codec.ts'),
  ];
  const built = await stat(path.join(outDir, 'index.html')).catch(() => undefined);
  let newest = 0;
  for (const source of sources) newest = Math.max(newest, await newestMtime(source));
  if (built && built.mtimeMs >= newest) return;
  log(built ? 'renderer sources changed: rebuilding the UI …' : 'building the UI (first run) …');
  const vite = await import('vite').catch(() => {
    throw new Error(`no built UI in ${outDir} and vite is not installed: run \`npm run build:renderer\` in a full checkout`);
  });
  await vite.build({ configFile: path.join(repoRoot, 'vite.renderer.config.ts'), logLevel: 'warn', build: { outDir } });
}
