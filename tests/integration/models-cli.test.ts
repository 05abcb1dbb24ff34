// `reslens models ...` as a user runs it: a child process, a store folder, a catalog ($RESLENS_CATALOG)
// pointing at a local HTTP server. Checks output, stderr progress and exit codes (0 ok, 1 failed, 2 usage).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileServer, randomSha256, startFileServer, testPayload } from '../helpers/file-server.js';
import { runCli } from '../helpers/cli.js';
import { REFERENCE_MODEL, hasTestdata } from '../helpers/testdata.js';

const tiny = testPayload(500_000, 21);
let server: FileServer;
let work: string;
let catalogFile: string;

/** The real `reslens` in a child process, with the test catalog and no store folder from the environment. */
async function reslens(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, { cwd: work, env: { RESLENS_CATALOG: catalogFile, RESLENS_MODELS_DIR: '', ...env } });
}

beforeAll(async () => {
  server = await startFileServer({ '/tiny.onnx': tiny.body });
  work = await mkdtemp(path.join(os.tmpdir(), 'reslens-cli-'));
  catalogFile = path.join(work, 'catalog.json');
  const base = { architecture: 'resnet50', variant: 'test', labels: 'imagenet1k', classes: 1000, input: { name: 'data' }, license: 'MIT' };
  await writeFile(
    catalogFile,
    JSON.stringify({
      version: 1,
      models: [
        {
          ...base,
          name: 'tiny-v1',
          aliases: ['tiny'],
          title: 'Tiny test model',
          url: server.url('/tiny.onnx'),
          bytes: tiny.body.length,
          sha256: tiny.sha256,
          source: { repo: 't/t', path: 'tiny.onnx' },
        },
        {
          ...base,
          name: 'wrong-v1',
          title: 'Wrong hash',
          url: server.url('/tiny.onnx'),
          bytes: tiny.body.length,
          sha256: randomSha256(),
          source: { repo: 't/t', path: 'tiny.onnx' },
        },
      ],
    }),
  );
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('reslens models', () => {
  it('lists, pulls (progress on stderr), verifies and removes', async () => {
    const store = path.join(work, 'store-a');
    const listed = await reslens(['--models-dir', store, 'models', 'list', '--json']);
    expect(listed.code).toBe(0);
    const json = JSON.parse(listed.stdout) as { dir: string; models: { name: string; installed: boolean; aliases: string[] }[] };
    expect(json.dir).toBe(store);
    expect(json.models.map((m) => [m.name, m.installed])).toEqual([
      ['tiny-v1', false],
      ['wrong-v1', false],
    ]);

    // The store folder from the environment this time.
    const pulled = await reslens(['models', 'pull', 'tiny'], { RESLENS_MODELS_DIR: store });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain('tiny-v1 installed');
    expect(pulled.stdout).toContain(tiny.sha256);
    expect(pulled.stderr).toMatch(/^tiny-v1: 100% 500\.0 kB \/ 500\.0 kB at /m);
    expect(existsSync(path.join(store, 'tiny-v1.onnx'))).toBe(true);

    const again = await reslens(['--models-dir', store, 'models', 'pull', 'tiny-v1']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already installed');

    const table = await reslens(['--models-dir', store, 'models', 'list']);
    expect(table.stdout).toMatch(/tiny-v1\s+500\.0 kB\s+installed\s+Tiny test model \(alias: tiny\)/);
    expect(table.stdout).toContain(`store: ${store}`);

    const verified = await reslens(['--models-dir', store, 'models', 'verify', 'tiny']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`tiny-v1 ok: sha256 ${tiny.sha256}`);

    const removed = await reslens(['--models-dir', store, 'models', 'rm', 'tiny']);
    expect(removed.code).toBe(0);
    expect(existsSync(path.join(store, 'tiny-v1.onnx'))).toBe(false);

    const twice = await reslens(['--models-dir', store, 'models', 'rm', 'tiny']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error MODEL_NOT_FOUND: /m);
  });

  it('exits 1 with "error CODE: message" when an operation fails', async () => {
    const store = path.join(work, 'store-b');
    const mismatch = await reslens(['--models-dir', store, 'models', 'pull', 'wrong-v1']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/^error CHECKSUM_MISMATCH: checksum mismatch for wrong-v1: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/m);
    expect(existsSync(path.join(store, 'wrong-v1.onnx'))).toBe(false);
    expect(existsSync(path.join(store, '.partial', 'wrong-v1.onnx.part'))).toBe(false);

    const unknown = await reslens(['--models-dir', store, 'models', 'pull', 'resnet9000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error MODEL_NOT_FOUND: unknown model "resnet9000"\. Catalog models: tiny-v1, tiny, wrong-v1/m);

    const garbage = path.join(work, 'garbage.onnx');
    await writeFile(garbage, 'not a model');
    const rejected = await reslens(['--models-dir', store, 'models', 'import', garbage]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/^error INVALID_MODEL: /m);
  });

  it('exits 2 on usage errors and 0 for --help', async () => {
    expect((await reslens(['models', 'import'])).code).toBe(2);
    expect((await reslens(['models', 'import', 'x.onnx', '--name', '../bad'])).code).toBe(2);
    expect((await reslens(['models', 'pull', '--bogus', 'x'])).code).toBe(2);
    for (const sub of ['pull', 'import']) {
      const help = await reslens(['models', sub, '--help']);
      expect(help.code, sub).toBe(0);
      expect(help.stdout).toContain(`Usage: reslens models ${sub}`);
    }
  });

  it.skipIf(!hasTestdata)('imports a model file and verifies it', async () => {
    const store = path.join(work, 'store-c');
    const imported = await reslens(['--models-dir', store, 'models', 'import', REFERENCE_MODEL, '--name', 'ref']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('imported ref');
    expect(imported.stdout).toContain('1000 classes');
    const verified = await reslens(['--models-dir', store, 'models', 'verify', 'ref', '--json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ name: 'ref', ok: true });
  });
});
