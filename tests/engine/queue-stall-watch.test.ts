// The stall watch against a real redis-server and real BullMQ consumers: a consumer that never runs
// (what a fetch loop parked on a dead blocking client looks like from Redis) is noticed and replaced,
// and the waiting job is then taken; a healthy consumer, or an idle one with nothing waiting, never is.
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueClient } from '../../src-main/engine/queue/connection.js';
import { StallWatch } from '../../src-main/engine/queue/stall-watch.js';
import { RedisServer, hasRedisServer } from '../helpers/redis.js';

describe.skipIf(!hasRedisServer)('StallWatch (real Redis, real BullMQ consumers)', () => {
  let redis: RedisServer;
  let connection: ReturnType<typeof queueClient>;
  beforeAll(async () => {
    redis = await RedisServer.start();
    connection = queueClient(redis.url);
  });
  afterAll(async () => {
    connection?.disconnect();
    await redis?.close();
  });

  /** A watch over `name` whose stall handler replaces `consumer` with a running one that records jobs. */
  function watched(name: string, consumer: { current: Worker }, taken: string[]) {
    const stalls: { waiting: number; idleSeconds: number }[] = [];
    const start = (autorun: boolean): Worker =>
      new Worker(
        name,
        async (job) => {
          watch.taken();
          taken.push(String(job.id));
        },
        { connection, prefix: 't', drainDelay: 1, autorun },
      );
    const queue = new Queue(name, { connection, prefix: 't' });
    const watch = new StallWatch({
      queue,
      hasRoom: () => true,
      everyMs: 150,
      onStall: async (info) => {
        stalls.push(info);
        const stalled = consumer.current;
        consumer.current = start(true);
        await stalled.close(true);
      },
    });
    return { queue, watch, stalls, start };
  }

  it('a consumer that takes nothing while a job waits is replaced after two checks; the job is then taken', async () => {
    const taken: string[] = [];
    const consumer = { current: undefined as unknown as Worker };
    const { queue, watch, stalls, start } = watched('wedged', consumer, taken);
    consumer.current = start(false); // never fetches
    await queue.add('chunk', {}, { jobId: 'c1' });
    watch.start();
    await expect.poll(() => taken, { timeout: 10_000 }).toEqual(['c1']);
    expect(stalls).toHaveLength(1);
    expect(stalls[0].waiting).toBe(1);
    expect(stalls[0].idleSeconds).toBeGreaterThanOrEqual(0.15);
    watch.stop();
    await consumer.current.close();
    await queue.close();
  });

  it('a healthy consumer under a stream of jobs, and an idle one with nothing waiting, are left alone', async () => {
    const taken: string[] = [];
    const consumer = { current: undefined as unknown as Worker };
    const { queue, watch, stalls, start } = watched('healthy', consumer, taken);
    consumer.current = start(true);
    watch.start();
    for (let i = 0; i < 20; i++) {
      await queue.add('chunk', {}, { jobId: `h${i}` });
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000)); // idle, nothing waiting: ~6 more checks
    watch.stop();
    expect(taken).toHaveLength(20);
    expect(stalls).toEqual([]);
    await consumer.current.close();
    await queue.close();
  });
});
