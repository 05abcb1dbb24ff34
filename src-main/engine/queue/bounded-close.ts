// Closing BullMQ objects after a Redis restart, without hanging. BullMQ's close() waits for its
// blocking Redis client, which was seen never to settle after a restart in CI (a SIGTERMed worker alive
// 30 s later with every chunk answered, 1 run in 5 of the restart test; later a coordinator whose
// run did not end within 400 s). So every close is given a grace, and then abandoned or forced: by
// then the work it guards (answers sent, results committed) is already done by our own awaits.

/** How long a BullMQ close may take once the work it guards is done. */
export const CLOSE_GRACE_MS = 5000;

/** Waits for `work` (its failure counts as settled) at most `ms`; true if it settled in time. */
export async function settlesWithin(work: Promise<unknown> | undefined, ms = CLOSE_GRACE_MS): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A BullMQ Worker's close: graceful within the grace, else forced (and that too only within a grace). */
export async function closeWorkerWithin(worker: { close(force?: boolean): Promise<void> } | undefined, ms = CLOSE_GRACE_MS): Promise<void> {
  if (!worker) return;
  if (await settlesWithin(worker.close(), ms)) return;
  await settlesWithin(worker.close(true), ms);
}
