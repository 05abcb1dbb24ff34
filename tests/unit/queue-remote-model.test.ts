// The coordinator's view of the run's model: a catalog model is named by the catalog's SHA-256
// without being downloaded (the coordinator never runs it); a file is hashed; a label set that does
// not fit is refused as a local run would refuse it.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { describeRemoteModel, remoteModelOf } from '../../src-main/engine/queue/remote-model.js';
import { colourClassifier } from '../helpers/tiny-models.js';

describe('describeRemoteModel', () => {
  let root: string;
  let store: ModelStore;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-remote-model-'));
    store = new ModelStore(path.join(root, 'store'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('names a catalog model by its catalog SHA-256 without downloading it', async () => {
    const fetchImpl = () => Promise.reject(new Error('no download expected'));
    const model = await describeRemoteModel('resnet50', { store, fetchImpl });
    const entry = store.catalogEntry('resnet50');
    expect(model.name).toBe(entry?.name);
    expect(model.info.sha256).toBe(entry?.sha256);
    expect(model.labels).toHaveLength(1000);
    expect(model.labels[0]).toBe('tench');
    expect(model.pretrained).toBe(true);
    expect(await store.get(entry?.name ?? '')).toBeNull();
    expect(() => model.top(new Float32Array(1000), 5)).toThrow(/runs on the queue workers/);
  });

  it('hashes a model file, and refuses labels that do not fit its classes', async () => {
    const file = path.join(root, 'colour.onnx');
    await writeFile(file, colourClassifier(5));
    const model = await describeRemoteModel(file, { store });
    expect(model.info.sha256).toBe(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
    expect(model.pretrained).toBe(false);
    expect(remoteModelOf({ ...model, info: model.info }).info.sha256).toBe(model.info.sha256);
    const labels = path.join(root, 'three.txt');
    await writeFile(labels, 'a\nb\nc\n');
    await expect(describeRemoteModel(file, { store, labelsFile: labels })).rejects.toMatchObject({ code: 'LABELS_INVALID' });
  });
});
