// What a queue worker may read: --path-map prefix rewriting and --allow-root confinement, on real
// files and links (a link inside an allowed folder that points outside it must be refused).
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathAccess, mapPath, parsePathMapping } from '../../src-main/engine/queue/path-access.js';
import { checkQueueUrl, redactUrl } from '../../src-main/engine/queue/connection.js';
import { codedFailure } from '../../src-main/engine/queue/protocol.js';

describe('--path-map', () => {
  it('rewrites the longest matching prefix on folder boundaries only', () => {
    const maps = [parsePathMapping('/mnt/photos=/data/photos'), parsePathMapping('/mnt/photos/raw=/fast/raw')];
    expect(mapPath('/mnt/photos/2024/a.jpg', maps)).toBe('/data/photos/2024/a.jpg');
    expect(mapPath('/mnt/photos/raw/b.jpg', maps)).toBe('/fast/raw/b.jpg');
    expect(mapPath('/mnt/photos-old/c.jpg', maps)).toBe('/mnt/photos-old/c.jpg'); // not a folder boundary
    expect(mapPath('/elsewhere/d.jpg', maps)).toBe('/elsewhere/d.jpg');
  });

  it('refuses values that are not two absolute folders', () => {
    for (const bad of ['/a', '=/b', '/a=', 'rel=/b', '/a=rel']) expect(() => parsePathMapping(bad), bad).toThrow(/LOCAL=REMOTE/);
  });
});

describe('--allow-root', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-roots-'));
    await mkdir(path.join(root, 'allowed', 'sub'), { recursive: true });
    await mkdir(path.join(root, 'outside'));
    await writeFile(path.join(root, 'allowed', 'sub', 'ok.jpg'), 'x');
    await writeFile(path.join(root, 'outside', 'secret.jpg'), 'x');
    await symlink(path.join(root, 'outside', 'secret.jpg'), path.join(root, 'allowed', 'link.jpg'));
    await mkdir(path.join(root, 'allowed', 'dir.jpg'));
    execFileSync('mkfifo', [path.join(root, 'allowed', 'fifo.jpg')]);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('reads regular files inside the roots only, after resolving .. and links', async () => {
    const access = await PathAccess.create({ allowRoots: [path.join(root, 'allowed')] });
    expect(access.restricted).toBe(true);
    expect(await access.resolve(path.join(root, 'allowed', 'sub', 'ok.jpg'))).toEqual({ file: path.join(root, 'allowed', 'sub', 'ok.jpg') });
    for (const refused of [path.join(root, 'outside', 'secret.jpg'), path.join(root, 'allowed', 'link.jpg'), `${root}/allowed/../outside/secret.jpg`]) {
      expect(await access.resolve(refused), refused).toEqual({ error: { code: 'PATH_NOT_ALLOWED', message: expect.stringMatching(/--allow-root/) } });
    }
    expect(await access.resolve(path.join(root, 'allowed', 'fifo.jpg'))).toEqual({ error: { code: 'READ_FAILED', message: 'not a regular file' } });
    expect(await access.resolve(path.join(root, 'allowed', 'dir.jpg'))).toEqual({ error: { code: 'READ_FAILED', message: 'not a regular file' } });
    expect(await access.resolve('relative/x.jpg')).toEqual({ error: { code: 'PATH_NOT_ALLOWED', message: 'not an absolute path' } });
    expect(await access.resolve(path.join(root, 'allowed', 'missing.jpg'))).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } });
  });

  it('applies the path map before the check, and refuses a root that does not exist', async () => {
    const access = await PathAccess.create({
      allowRoots: [path.join(root, 'allowed')],
      pathMap: [parsePathMapping(`/coordinator/photos=${path.join(root, 'allowed')}`)],
    });
    expect(await access.resolve('/coordinator/photos/sub/ok.jpg')).toEqual({ file: path.join(root, 'allowed', 'sub', 'ok.jpg') });
    await expect(PathAccess.create({ allowRoots: [path.join(root, 'nope')] })).rejects.toThrow(/no such folder/);
    const open = await PathAccess.create({});
    expect(open.restricted).toBe(false);
    expect(await open.resolve(path.join(root, 'outside', 'secret.jpg'))).toEqual({ file: path.join(root, 'outside', 'secret.jpg') });
  });
});

describe('queue URLs and failure codes', () => {
  it('hides passwords and accepts only redis:// and rediss://', () => {
    expect(redactUrl('redis://:hunter2@db.lan:6379/2')).toBe('redis://:***@db.lan:6379/2');
    expect(redactUrl('rediss://user:p%40ss@db.lan:6380')).toBe('rediss://user:***@db.lan:6380');
    expect(() => checkQueueUrl('http://db.lan')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => checkQueueUrl('not a url')).toThrow(/not a queue URL/);
    expect(() => checkQueueUrl('rediss://db.lan:6380')).not.toThrow();
  });

  it('reads the code of a coded chunk failure, and nothing from other reasons', () => {
    expect(codedFailure('MODEL_MISMATCH: worker has no model')).toEqual({ code: 'MODEL_MISMATCH', message: 'worker has no model' });
    expect(codedFailure('job stalled more than allowable limit')).toBeUndefined();
    expect(codedFailure('NOT_A_CODE: x')).toBeUndefined();
  });
});

describe('chunk messages', () => {
  const valid = {
    v: 1,
    run: 'a'.repeat(24),
    model: { name: 'resnet50', sha256: 'b'.repeat(64) },
    preprocessing: { resizeShorter: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout: 'NCHW' },
    mode: 'fast',
    top: 5,
    paths: ['/photos/a.jpg'],
  };
  it('accepts what the coordinator sends and refuses anything else a job could ask', async () => {
    const { ChunkJobSchema } = await import('../../src-main/engine/queue/protocol.js');
    expect(ChunkJobSchema.safeParse(valid).success).toBe(true);
    for (const bad of [
      { ...valid, command: 'rm -rf /' }, // unknown keys: strict
      { ...valid, paths: [] },
      { ...valid, paths: Array.from({ length: 257 }, (_, i) => `/p/${i}.jpg`) },
      { ...valid, batchSize: 1024 }, // 1024 × 3 × 224² floats: more than a job may make a worker allocate
      { ...valid, preprocessing: { ...valid.preprocessing, crop: 100_000 } },
      { ...valid, model: { name: 'x', sha256: 'not-a-sha' } },
      { ...valid, v: 2 },
    ])
      expect(ChunkJobSchema.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
  });
});
