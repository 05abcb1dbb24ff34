// Fidelity against PyTorch: the reference tensors, logits and top-5 in ../shared/testdata.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { classifyFiles, isFailure } from '../../src-main/engine/infer/classify-files.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { readNpy } from '../helpers/npy.js';
import { cosine } from '../helpers/compare.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata, imagenetLabels, referenceImages } from '../helpers/testdata.js';

const images = hasTestdata ? referenceImages() : [];

describe.runIf(hasTestdata)('reference fidelity (PyTorch 1.13 / torchvision 0.14 / Pillow 9.4)', () => {
  let classifier: Classifier;
  beforeAll(async () => {
    classifier = await Classifier.load({
      name: 'reference',
      modelPath: REFERENCE_MODEL,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: imagenetLabels(),
      ep: 'cpu',
    });
  });
  afterAll(async () => classifier?.dispose());

  it.each(images.map((i) => [i.name, i]))('%s: preprocessed tensor equals the reference bit for bit', async (_, image) => {
    const ours = await preprocessFile(image.file, TORCHVISION_PREPROCESSING);
    const reference = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${image.name}.npy`));
    expect(reference.shape).toEqual([1, 3, 224, 224]);
    let maxDelta = 0;
    for (let i = 0; i < reference.data.length; i++) maxDelta = Math.max(maxDelta, Math.abs(reference.data[i] - ours.tensor[i]));
    expect(maxDelta).toBe(0);
  });

  it.each(images.map((i) => [i.name, i]))('%s: logits from the reference input are within 1e-3', async (_, image) => {
    const input = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${image.name}.npy`));
    const expected = readNpy(path.join(TESTDATA, 'ref', image.name, 'logits.npy'));
    const { logits } = await classifier.run(input.data, 1);
    expect(logits[0].length).toBe(1000);
    let maxDelta = 0;
    for (let i = 0; i < 1000; i++) maxDelta = Math.max(maxDelta, Math.abs(logits[0][i] - expected.data[i]));
    expect(maxDelta).toBeLessThanOrEqual(1e-3);
  });

  it('end to end from the image files: the same top-5 as PyTorch on every image', async () => {
    const results = [];
    for await (const result of classifyFiles(
      classifier,
      images.map((i) => ({ path: i.file })),
      { batchSize: 4, top: 5 },
    ))
      results.push(result);
    expect(results).toHaveLength(images.length);
    for (const [i, result] of results.entries()) {
      if (isFailure(result)) throw new Error(`${result.path}: ${result.error.message}`);
      expect(result.path).toBe(images[i].file);
      expect(
        result.top.map((t) => t.index),
        images[i].name,
      ).toEqual(images[i].top5);
      expect(result.top[0].label).toBe(imagenetLabels()[images[i].top5[0]]);
      expect(result.ep).toBe('cpu');
    }
  });

  it('batched runs give the same logits as single-image runs', async () => {
    const a = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${images[0].name}.npy`)).data;
    const b = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${images[1].name}.npy`)).data;
    const batch = new Float32Array(a.length * 2);
    batch.set(a, 0);
    batch.set(b, a.length);
    const together = await classifier.run(batch, 2);
    const alone = await classifier.run(b, 1);
    expect(cosine(together.logits[1], alone.logits[0])).toBeGreaterThan(0.999999);
    let maxDelta = 0;
    for (let i = 0; i < 1000; i++) maxDelta = Math.max(maxDelta, Math.abs(together.logits[1][i] - alone.logits[0][i]));
    expect(maxDelta).toBeLessThan(1e-4);
  });
});
