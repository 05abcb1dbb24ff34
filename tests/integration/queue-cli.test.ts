// Distributed batch end to end, with nothing faked: Debian's redis-server on a free loopback port,
// 2–3 real `reslens worker` processes and the real `reslens batch --queue` coordinator. Workers are
// SIGKILLed, Redis is restarted (AOF on) and the coordinator is killed mid-run; every time the export
// must hold each image exactly once with the same answers as a local run of the same model.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { photoLike } from '../helpers/bad-inputs.js';
import { runCli } from '../helpers/cli.js';
import { csvRecords } from '../helpers/csv.js';
import {
  type Proc,
  exitWithin,
  journalResultLines,
  journalResults,
  processLogs,
  startReslens,
  startWorker,
  stopWorker,
  waitFor,
} from '../helpers/queue-processes.js';
import { RedisServer, freePort, hasRedisServer } from '../helpers/redis.js';
import { colourClassifier } from '../helpers/tiny-models.js';

interface Line {
  path: string;
  top?: { index: number; label: string; prob: number }[];
  error?: { code: string; message: string };
  worker?: string;
}

const readJsonl = async (file: string): Promise<Line[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

// Many real processes on a shared 2-core machine: generous limits (a hang still fails, later).
describe.skipIf(!hasRedisServer)('reslens batch --queue / reslens worker (real Redis, real workers)', { timeout: 400_000 }, () => {
  let root: string;
  let photos: string;
  let model: string;
  let otherModel: string;
  let redis: RedisServer;
  const files: string[] = [];
  const local = new Map<string, Line>();
  const workers: Proc[] = [];
  const env = () => ({ RESLENS_MODELS_DIR: path.join(root, 'store') });

  const worker = async (url: string, args: string[] = []): Promise<Proc> => {
    const w = await startWorker(url, ['--model', model, ...args], env());
    workers.push(w);
    // A test that fails or times out must not leave its workers taking the next test's chunks (one
    // timed-out test once made the next test's run classify what its own worker had to refuse).
    onTestFinished(async () => {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await w.exited;
    });
    return w;
  };

  /** Every image once, with the local run's classes and probabilities, each row naming a worker. */
  const expectSameAsLocal = (lines: Line[], expected = files): void => {
    expect(lines.map((l) => l.path).sort()).toEqual([...expected].sort());
    for (const line of lines) {
      expect(line.error, line.path).toBeUndefined();
      expect(line.top, line.path).toEqual(local.get(line.path)?.top);
      expect(line.worker, line.path).toMatch(/^.+:\d+$/);
    }
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-queue-'));
    photos = path.join(root, 'photos');
    for (let i = 0; i < 18; i++) {
      const folder = path.join(photos, ['2023', '2024', 'misc/ünï'][i % 3]);
      await mkdir(folder, { recursive: true });
      const file = path.join(folder, `IMG_${String(i).padStart(3, '0')}.jpg`);
      await writeFile(file, await photoLike(200 + (i % 5) * 20, 160, 'jpeg', i + 7));
      files.push(file);
    }
    // What is tested is the distribution, not the network: a fast stand-in keeps this file's many
    // processes within the time a loaded 2-core machine allows (docs/queue.md has ResNet-50 numbers).
    model = path.join(root, 'colour-a.onnx');
    otherModel = path.join(root, 'colour-b.onnx');
    await writeFile(model, colourClassifier(1));
    await writeFile(otherModel, colourClassifier(2));
    redis = await RedisServer.start({ appendOnly: true });
    // The reference: a local batch of the same model and mode.
    const out = path.join(root, 'local', 'results.jsonl');
    const run = await runCli(['batch', photos, '--model', model, '--out', out], { env: env(), timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    for (const line of await readJsonl(out)) local.set(line.path, line);
    expect(local.size).toBe(files.length);
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await redis?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('fails within 20 s with exit 2 and one line when no Redis answers (batch and worker), and refuses bad URLs', async () => {
    const port = await freePort();
    const started = Date.now();
    const batch = await runCli(['batch', photos, '--model', model, '--queue', `redis://127.0.0.1:${port}`, '--out', path.join(root, 'none', 'r.csv')], {
      env: env(),
      timeoutMs: 60_000,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(batch.code).toBe(2);
    expect(
      batch.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error')),
    ).toEqual([expect.stringMatching(/QUEUE_UNAVAILABLE: cannot reach the queue at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/)]);
    const worker = await runCli(['worker', '--queue', `redis://:secret-pw@127.0.0.1:${port}`], { env: env(), timeoutMs: 60_000 });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/QUEUE_UNAVAILABLE/);
    expect(worker.stderr).not.toMatch(/secret-pw/); // passwords never appear in messages
    const bad = await runCli(['batch', photos, '--queue', 'http://127.0.0.1:6379', '--out', path.join(root, 'none', 'r.csv')], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/redis:\/\/ or rediss:\/\//);
  });

  it('2 workers, one SIGKILLed mid-run and a third added: each image exactly once, answers equal to the local run', async () => {
    const w1 = await worker(redis.url);
    const w2 = await worker(redis.url);
    expect(w1.stderr()).toMatch(/warning: no --allow-root/);
    const out = path.join(root, 'kill', 'results.jsonl');
    const journal = `${out}.reslens-journal.jsonl`;
    const batch = startReslens(['batch', photos, '--model', model, '--queue', redis.url, '--out', out, '--chunk', '2'], env());
    // Kill a worker that has delivered results, while there is work left.
    await waitFor(
      'results from both workers',
      async () => new Set([...(await journalResults(journal)).values()].map((r) => r.worker)).size >= 2 || batch.child.exitCode !== null,
    );
    const victim = [...(await journalResults(journal)).values()].find((r) => r.worker?.endsWith(`:${w1.child.pid}`)) ? w1 : w2;
    victim.child.kill('SIGKILL');
    expect(batch.child.exitCode).toBeNull();
    expect((await journalResults(journal)).size).toBeLessThan(files.length);
    const w3 = await worker(redis.url);
    const result = await batch.exited;
    expect(result.code, batch.stderr()).toBe(0);
    expect((await journalResults(journal)).size).toBe(files.length);
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const lines = await readJsonl(out);
    expectSameAsLocal(lines);
    expect(new Set(await journalResultLines(journal)).size).toBe((await journalResultLines(journal)).length); // never twice in the journal
    expect(new Set(lines.map((l) => l.worker)).size).toBeGreaterThanOrEqual(2);
    expect(batch.stderr()).toMatch(/workers: .+:\d+ /);
    // A clean stop on SIGTERM: exit 0 and a summary.
    for (const w of [w1, w2, w3].filter((w) => w !== victim)) {
      expect(await stopWorker(w)).toEqual({ code: 0, signal: null });
      expect(w.stderr()).toMatch(/stopped: \d+ images in \d+ chunks/);
    }
  });

  it('Redis restarted (AOF on) mid-run: the run waits it out and still ends with each image once', async () => {
    // --json: each chunk a worker answers is a line on its stdout, for the log of a failure.
    const w1 = await worker(redis.url, ['--json']);
    const w2 = await worker(redis.url, ['--json']);
    const out = path.join(root, 'restart', 'results.csv');
    const journal = `${out}.reslens-journal.jsonl`;
    const batch = startReslens(['batch', photos, '--model', model, '--queue', redis.url, '--out', out, '--chunk', '2'], env());
    await waitFor('the first results', async () => (await journalResults(journal)).size >= 4 || batch.child.exitCode !== null);
    expect(batch.child.exitCode).toBeNull();
    await redis.restart(1000);
    // Bounded well inside the test's limit, so a hang fails with every process's log and Redis's keys.
    const result = await exitWithin(batch, 180_000, async () => `${processLogs({ w1, w2 })}\n--- redis keys ---\n${await redis.describeKeys()}`);
    expect(result.code, batch.stderr()).toBe(0);
    const rows = csvRecords(await readFile(out, 'utf8'));
    expect(rows.map((r) => r.path).sort()).toEqual([...files].sort());
    for (const row of rows) {
      expect(row.error_code, row.path).toBe('');
      expect(row.top1_index, row.path).toBe(String(local.get(row.path)?.top?.[0].index));
      expect(row.top1_prob, row.path).toBe(String(local.get(row.path)?.top?.[0].prob));
      expect(row.worker, row.path).toMatch(/:\d+$/);
    }
    // A worker still alive 30 s after SIGTERM is SIGKILLed by stopWorker: its log says how far it got.
    expect(await stopWorker(w1), w1.stderr()).toEqual({ code: 0, signal: null });
    expect(await stopWorker(w2), w2.stderr()).toEqual({ code: 0, signal: null });
  });

  it('coordinator SIGKILLed mid-run, then --resume: the rest is classified, nothing reported is lost or repeated', async () => {
    const w1 = await worker(redis.url);
    const w2 = await worker(redis.url);
    const out = path.join(root, 'crash', 'results.jsonl');
    const journal = `${out}.reslens-journal.jsonl`;
    const args = ['batch', photos, '--model', model, '--queue', redis.url, '--out', out, '--chunk', '2'];
    const first = startReslens(args, env());
    await waitFor('the first results', async () => (await journalResults(journal)).size >= 4 || first.child.exitCode !== null);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const before = await journalResults(journal);
    expect(before.size).toBeLessThan(files.length);
    const resumed = await runCli([...args, '--resume'], { env: env(), timeoutMs: 300_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/done in an earlier run/);
    const lines = await readJsonl(out);
    expectSameAsLocal(lines);
    for (const [file, result] of before) expect(lines.find((l) => l.path === file)?.worker).toBe(result.worker);
    const paths = await journalResultLines(journal);
    expect(new Set(paths).size).toBe(paths.length);
    await stopWorker(w1);
    await stopWorker(w2);
  });

  it('--allow-root: files outside it (directly or through a link) become PATH_NOT_ALLOWED rows; the rest is classified', async () => {
    const allowed = path.join(photos, '2023');
    const secret = path.join(root, 'secret', 'private.jpg');
    await mkdir(path.dirname(secret), { recursive: true });
    await writeFile(secret, await photoLike(64, 64, 'jpeg', 99));
    const link = path.join(allowed, 'zz-link-to-secret.jpg');
    await symlink(secret, link);
    try {
      const w = await worker(redis.url, ['--allow-root', allowed]);
      expect(w.stderr()).toMatch(/reading images only under: .*2023/);
      expect(w.stderr()).not.toMatch(/no --allow-root/);
      const out = path.join(root, 'roots', 'results.jsonl');
      const run = await runCli(['batch', allowed, path.join(photos, '2024'), secret, '--model', model, '--queue', redis.url, '--out', out], {
        env: env(),
        timeoutMs: 300_000,
      });
      expect(run.code, run.stderr).toBe(1); // some failed
      const lines = await readJsonl(out);
      const inside = files.filter((f) => f.startsWith(`${allowed}${path.sep}`));
      const outside = [...files.filter((f) => f.startsWith(`${path.join(photos, '2024')}${path.sep}`)), secret, link];
      expect(lines.map((l) => l.path).sort()).toEqual([...inside, ...outside].sort());
      for (const line of lines) {
        if (inside.includes(line.path)) expect(line.top, line.path).toEqual(local.get(line.path)?.top);
        else expect(line.error?.code, line.path).toBe('PATH_NOT_ALLOWED');
      }
      await stopWorker(w);
    } finally {
      await rm(link, { force: true });
    }
  });

  it("--path-map: a worker that mounts the photos elsewhere reads them there; rows keep the coordinator's paths", async () => {
    // The worker's "mount" is a copy of the folder: it may read only there (--allow-root), so a row
    // comes back classified only if the path was rewritten.
    const subset = path.join(photos, '2024');
    const mount = path.join(root, 'worker-mount', '2024');
    await mkdir(mount, { recursive: true });
    const expected = files.filter((f) => f.startsWith(`${subset}${path.sep}`));
    for (const f of expected) await writeFile(path.join(mount, path.basename(f)), await readFile(f));
    const w = await worker(redis.url, ['--allow-root', mount, '--path-map', `${subset}=${mount}`]);
    expect(w.stderr()).toContain(`path map: ${subset} → ${mount}`);
    const out = path.join(root, 'mapped', 'results.jsonl');
    const run = await runCli(['batch', subset, '--model', model, '--queue', redis.url, '--out', out], { env: env(), timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    expectSameAsLocal(await readJsonl(out), expected);
    await stopWorker(w);
  });

  it("a worker without the run's model (by SHA-256) refuses: MODEL_MISMATCH rows, never another model's answers; password URL", async () => {
    const secured = await RedisServer.start({ password: 'pa ss/wörd' });
    try {
      const w = await startWorker(secured.url, ['--model', otherModel], env());
      workers.push(w);
      const out = path.join(root, 'mismatch', 'results.jsonl');
      const subset = path.join(photos, '2024');
      const run = await runCli(['batch', subset, '--model', model, '--queue', secured.url, '--out', out, '--chunk', '8'], { env: env(), timeoutMs: 300_000 });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).not.toMatch(/pa ss|w%C3%B6rd|wörd/);
      const lines = await readJsonl(out);
      expect(lines).toHaveLength(files.filter((f) => f.startsWith(`${subset}${path.sep}`)).length);
      for (const line of lines) {
        expect(line.top).toBeUndefined();
        expect(line.error?.code).toBe('MODEL_MISMATCH');
        expect(line.error?.message).toMatch(/no model with sha256 [0-9a-f]{12}/);
      }
      expect(w.stderr()).toMatch(/refused chunk .*no model with sha256/);
      await stopWorker(w);
    } finally {
      await secured.close();
    }
  });

  it('rediss:// (TLS): works when the certificate is trusted, fails with exit 2 and the reason when it is not', async () => {
    const cert = path.join(root, 'tls', 'cert.pem');
    const key = path.join(root, 'tls', 'key.pem');
    await mkdir(path.dirname(cert), { recursive: true });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const secured = await RedisServer.start({ tls: { cert, key } });
    try {
      expect(secured.url).toMatch(/^rediss:\/\//);
      const untrusted = await runCli(
        ['batch', path.join(photos, '2023'), '--model', model, '--queue', secured.url, '--out', path.join(root, 'tls', 'no.csv')],
        { env: env(), timeoutMs: 60_000 },
      );
      expect(untrusted.code).toBe(2);
      expect(untrusted.stderr).toMatch(/QUEUE_UNAVAILABLE: .*(self[- ]signed|certificate)/i);
      const trusted = { ...env(), NODE_EXTRA_CA_CERTS: cert };
      const w = await startWorker(secured.url, ['--model', model], trusted);
      workers.push(w);
      const out = path.join(root, 'tls', 'results.jsonl');
      const run = await runCli(['batch', path.join(photos, '2023'), '--model', model, '--queue', secured.url, '--out', out], {
        env: trusted,
        timeoutMs: 300_000,
      });
      expect(run.code, run.stderr).toBe(0);
      const expected = files.filter((f) => f.startsWith(`${path.join(photos, '2023')}${path.sep}`));
      expectSameAsLocal(await readJsonl(out), expected);
      await stopWorker(w);
    } finally {
      await secured.close();
    }
  });
});
