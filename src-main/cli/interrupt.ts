// Waiting for a long run (batch, lesion study) on the command line: the first Ctrl-C (or SIGTERM)
// asks the run to stop after the current batch — the journal keeps everything done, --resume
// continues — and a second one quits at once. One place for what `reslens batch` and `reslens
// lesion` both do.

/** The exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

export async function waitInterruptibly<T>(
  running: { cancel(): void; done: Promise<T> },
  progress: { stop(): void },
  log: (message: string) => void,
): Promise<{ summary: T; seconds: number }> {
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    progress.stop();
    log('stopping after the current batch… (press Ctrl-C again to quit now; --resume continues either way)');
    running.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const start = performance.now();
  try {
    const summary = await running.done;
    return { summary, seconds: (performance.now() - start) / 1000 };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.stop();
  }
}

/**
 * Ends the process `ms` after a queue command is done even if a Redis client's reconnect timer
 * lingers (seen after a Redis restart: a finished worker or coordinator that a supervisor or script
 * then waits on, or SIGKILLs). Unref'd: a clean exit comes first, and output is written by then.
 */
export function exitSoonAfterDone(ms = 2000): void {
  setTimeout(() => process.exit(), ms).unref();
}
