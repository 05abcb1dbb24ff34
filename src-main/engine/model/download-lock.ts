// One writer per model across processes: a lock file in the store's .partial/ folder holding the
// owner's pid. A lock whose process is gone (a crash, a kill -9) is taken over.
import { open, readFile, rm } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { processAlive } from '../core/temp-dirs.js';
import { ErrorCode } from '../core/vocabulary.js';

/** Takes the lock `file` for downloading `name`; resolves to its release. */
export async function lockDownload(file: string, name: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 3; tries += 1) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new EngineError(
          ErrorCode.DOWNLOAD_FAILED,
          `another ResLens process (pid ${pid}) is downloading ${name}; wait for it to finish (or delete ${file} if that process is gone)`,
          { item: name },
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `cannot lock ${file} for downloading ${name}`, { item: name });
}
