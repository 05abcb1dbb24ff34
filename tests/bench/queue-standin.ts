// Stand-in queue workers for tests/bench/queue.ts, in their own process so the coordinator's CPU is
// measured alone: N BullMQ consumers of reslens:chunks whose "classifier" costs a fixed time per image
// (a timer: no CPU), answering every image as class <n>. Prints "ready" when consuming; on SIGTERM
// prints {"cpuMs":…,"images":…} (this process's CPU: the worker-side queue cost) and exits.
import { Queue, Worker, type Job } from 'bullmq';
import { queueClient } from '../../src-main/engine/queue/connection.js';
import { CHUNKS_QUEUE, ChunkJobSchema, PROTOCOL_VERSION, QUEUE_PREFIX, type ResultsJob, resultsQueueName } from '../../src-main/engine/queue/protocol.js';

const [url, countArg, costArg] = process.argv.slice(2);
const costMsPerImage = Number(costArg ?? 1);
const connection = queueClient(url);
const results = new Map<string, Queue>();
let images = 0;
const workers = Array.from(
  { length: Number(countArg ?? 8) },
  (_, n) =>
    new Worker(
      CHUNKS_QUEUE,
      async (job: Job) => {
        const chunk = ChunkJobSchema.parse(job.data);
        await new Promise((r) => setTimeout(r, costMsPerImage * chunk.paths.length));
        const message: ResultsJob = {
          v: PROTOCOL_VERSION,
          chunk: String(job.id),
          worker: `standin:${n}`,
          results: chunk.paths.map((p) => ({ path: p, top: [{ index: n, prob: 0.5 }], ep: 'cpu', ms: costMsPerImage })),
        };
        let queue = results.get(chunk.run);
        if (!queue) results.set(chunk.run, (queue = new Queue(resultsQueueName(chunk.run), { connection, prefix: QUEUE_PREFIX })));
        await queue.add('results', message, { jobId: String(job.id), removeOnComplete: true });
        images += chunk.paths.length;
      },
      { connection, prefix: QUEUE_PREFIX, concurrency: 2, drainDelay: 1 },
    ),
);
const cpuAtStart = process.cpuUsage();
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  const cpu = process.cpuUsage(cpuAtStart);
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all([...results.values()].map((q) => q.close()));
  connection.disconnect();
  process.stdout.write(`${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, images })}\n`);
  process.exit(0);
});
