// The block lens against PyTorch: per-block norms (blocks.json) and lesioned logits (lesions.json,
// lesion-*.npy) of the reference ResNet-50, fed the reference input tensors.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlockLens, blockLens, releaseBlockLens } from '../../src-main/engine/blocks/lens.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { readNpy } from '../helpers/npy.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata, imagenetLabels } from '../helpers/testdata.js';

interface ReferenceBlock {
  id: string;
  stage: string;
  index: number;
  downsample: boolean;
  inputNorm: number;
  residualNorm: number;
  shortcutNorm: number;
  outputNorm: number;
}
interface ReferenceLesion {
  drop: string[];
  top5: number[];
  logits: string;
}

const NAMES = ['kite_by_Risto_Saukonpaa', 'china_orient6', 'flower'];
const refFile = (name: string, file: string): string => path.join(TESTDATA, 'ref', name, file);
const input = (name: string): Float32Array => readNpy(path.join(TESTDATA, 'ref', 'inputs', `${name}.npy`)).data;

describe.runIf(hasTestdata)('block lens against PyTorch (reference ResNet-50)', () => {
  let classifier: Classifier;
  let lens: BlockLens;
  beforeAll(async () => {
    classifier = await Classifier.load({
      name: 'reference',
      modelPath: REFERENCE_MODEL,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: imagenetLabels(),
      ep: 'cpu',
    });
    lens = await blockLens(classifier);
  });
  afterAll(async () => {
    if (classifier) await releaseBlockLens(classifier);
    await classifier?.dispose();
  });

  it('finds the 16 blocks with torchvision ids, stages and downsample flags', () => {
    const reference = (JSON.parse(readFileSync(refFile(NAMES[0], 'blocks.json'), 'utf8')) as { blocks: ReferenceBlock[] }).blocks;
    expect(lens.blocks.map((b) => [b.id, b.stage, b.index, b.downsample])).toEqual(reference.map((b) => [b.id, b.stage, b.index, b.downsample]));
    // Spatial downsampling is where the stride is: the first block of layer2..layer4 (layer1.0 only projects channels).
    expect(lens.blocks.filter((b) => b.stride === 2).map((b) => b.id)).toEqual(['layer2.0', 'layer3.0', 'layer4.0']);
  });

  it.each(NAMES)('%s: input, residual, shortcut and output norms within 1e-4 relative', async (name) => {
    const reference = (JSON.parse(readFileSync(refFile(name, 'blocks.json'), 'utf8')) as { blocks: ReferenceBlock[] }).blocks;
    const { norms } = await lens.run(input(name), 1, { norms: true });
    const ours = norms?.[0] ?? [];
    expect(ours.map((b) => b.id)).toEqual(reference.map((b) => b.id));
    let worst = 0;
    for (let k = 0; k < reference.length; k++) {
      for (const key of ['inputNorm', 'residualNorm', 'shortcutNorm', 'outputNorm'] as const) {
        worst = Math.max(worst, Math.abs(ours[k][key] - reference[k][key]) / reference[k][key]);
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it.each(NAMES)('%s: lesioned logits within 1e-3 (downsampling blocks and several at once included)', async (name) => {
    const lesions = (JSON.parse(readFileSync(refFile(name, 'lesions.json'), 'utf8')) as { lesions: ReferenceLesion[] }).lesions;
    expect(lesions.some((l) => l.drop.includes('layer2.0'))).toBe(true);
    expect(lesions.some((l) => l.drop.length > 1)).toBe(true);
    const intact = (await lens.run(input(name), 1)).logits[0];
    for (const lesion of lesions) {
      const expected = readNpy(refFile(name, lesion.logits)).data;
      const { logits } = await lens.run(input(name), 1, { gates: Object.fromEntries(lesion.drop.map((id) => [id, 0])) });
      let maxDelta = 0;
      let change = 0;
      for (let i = 0; i < 1000; i++) {
        maxDelta = Math.max(maxDelta, Math.abs(logits[0][i] - expected[i]));
        change = Math.max(change, Math.abs(intact[i] - expected[i]));
      }
      expect(maxDelta, lesion.drop.join('+')).toBeLessThanOrEqual(1e-3);
      // The lesion moved the logits far more than the tolerance: the comparison could fail.
      expect(change, lesion.drop.join('+')).toBeGreaterThan(1e-2);
      expect(lens.top(logits[0], 5).map((c) => c.index)).toEqual(lesion.top5);
    }
  });

  it('runs several images per run with their own norms, and lesions stay per run', async () => {
    const both = new Float32Array(2 * 3 * 224 * 224);
    both.set(input(NAMES[0]), 0);
    both.set(input(NAMES[2]), 3 * 224 * 224);
    const batched = await lens.run(both, 2, { norms: true, gates: { 'layer3.2': 0 } });
    const single = await lens.run(input(NAMES[2]), 1, { norms: true, gates: { 'layer3.2': 0 } });
    expect(batched.norms?.[1][5].outputNorm).toBeCloseTo(single.norms?.[0][5].outputNorm ?? NaN, 2);
    const dropped = batched.norms?.[0].find((b) => b.id === 'layer3.2');
    expect(dropped?.residualNorm).toBe(0);
  });

  it('refuses unknown ids and scales out of range, naming the valid ids', async () => {
    await expect(lens.run(input(NAMES[0]), 1, { gates: { 'layer9.1': 0 } })).rejects.toThrow(/unknown block id layer9\.1.*layer1\.0, layer1\.1/);
    await expect(lens.run(input(NAMES[0]), 1, { gates: { 'layer1.0': Number.NaN } })).rejects.toThrow(/outside 0\.\.4/);
  });
});
