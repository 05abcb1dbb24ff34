// The user's data folder for kept runs: the same per-user folder the model store lives in
// (env-paths: ~/.local/share/reslens on Linux), or $RESLENS_DATA_DIR (tests, portable installs).
import path from 'node:path';
import envPaths from 'env-paths';

export function defaultDataDir(given?: string): string {
  const chosen = given ?? (process.env.RESLENS_DATA_DIR?.trim() || undefined);
  return path.resolve(chosen ?? envPaths('reslens', { suffix: '' }).data);
}
