// A batch run over the queue, as every host starts it: the local startBatch (journal, resume,
// exports, organise) with the queue coordinator in place of the local pipeline.
//
//   const job = await startQueueBatch({ inputs, model: await describeRemoteModel('resnet50', …), queue: { url }, out });
//   job.on(…); const summary = await job.done;   // exactly the local BatchJob
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { journalPathFor } from '../batch/journal.js';
import { type BatchJob, type BatchRunOptions, startBatch } from '../batch/run.js';
import { checkQueueReachable } from './connection.js';
import { QueueCoordinator, type QueueSettings } from './coordinator.js';
import type { RemoteModel } from './remote-model.js';

export interface QueueBatchOptions extends Omit<BatchRunOptions, 'classifier' | 'runner' | 'decodeConcurrency' | 'preprocessIn' | 'lingerMs'> {
  model: RemoteModel;
  queue: QueueSettings;
}

/** The journal's first line (its header, with the creation time that makes a run unique). */
async function journalHeaderLine(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString('utf8', 0, bytesRead);
    return text.slice(0, Math.max(0, text.indexOf('\n')));
  } finally {
    await handle.close();
  }
}

/**
 * The run's id in Redis: the same for every --resume of one journal (so results a crashed coordinator
 * left in its results queue are read back), different after --restart or on another machine.
 */
export function runIdFor(journalFile: string, headerLine: string): string {
  return createHash('sha256')
    .update(`${os.hostname()}\n${path.resolve(journalFile)}\n${headerLine}`)
    .digest('hex')
    .slice(0, 24);
}

/** Throws QUEUE_UNAVAILABLE (before any file is written) when Redis does not answer. */
export async function startQueueBatch(options: QueueBatchOptions): Promise<BatchJob> {
  await checkQueueReachable(options.queue.url);
  const journalFile = options.journal ?? journalPathFor(options.out);
  return startBatch({
    ...options,
    classifier: options.model,
    // startBatch has opened (or created) the journal by the time the run starts; its header names the run.
    runner: (pipelineOptions) =>
      new QueueCoordinator(pipelineOptions, options.model, options.queue, async () => runIdFor(journalFile, await journalHeaderLine(journalFile))),
  });
}
