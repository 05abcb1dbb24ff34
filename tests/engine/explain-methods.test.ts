// The explanation methods: identities that must hold for a global-pool + fully-connected head
// (Grad-CAM at the last stage ∝ ReLU(CAM), HiResCAM = ReLU(CAM)·… exactly), integrated gradients'
// completeness within the documented step tolerance, the formulas on a hand-computed example, and the
// deletion/insertion metric on a map that is and one that is not faithful.
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { explainTensor } from '../../src-main/engine/explain/explain.js';
import { Explainer } from '../../src-main/engine/explain/explainer.js';
import { areaUnderCurve, faithfulness, importanceOrder } from '../../src-main/engine/explain/faithfulness.js';
import { eigenCam } from '../../src-main/engine/explain/methods/eigen-cam.js';
import { gradCamPlusPlus } from '../../src-main/engine/explain/methods/grad-cam-plus-plus.js';
import { gradCam } from '../../src-main/engine/explain/methods/grad-cam.js';
import { hiResCam } from '../../src-main/engine/explain/methods/hires-cam.js';
import { integratedGradients } from '../../src-main/engine/explain/methods/integrated-gradients.js';
import { layerCam } from '../../src-main/engine/explain/methods/layer-cam.js';
import { xGradCam } from '../../src-main/engine/explain/methods/xgrad-cam.js';
import { classActivationMap } from '../../src-main/engine/features/reduce.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { cosine } from '../helpers/compare.js';
import { REFERENCE_MODEL, hasTestdata, imagenetLabels } from '../helpers/testdata.js';

const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);

describe('method formulas on a hand-computed example', () => {
  // Two channels over a 1×2 plane: A = [[1, 3], [2, 0]], g = [[0.5, -0.5], [1, 1]].
  const slice = { activation: Float32Array.from([1, 3, 2, 0]), gradient: Float32Array.from([0.5, -0.5, 1, 1]), shape: [2, 1, 2] as const };
  it('Grad-CAM: α = (0, 1) → ReLU(A₁) = (2, 0)', () => {
    expect(Array.from(gradCam(slice).data)).toEqual([2, 0]);
  });
  it('HiResCAM: ReLU(Σ g⊙A) = ReLU(0.5+2, −1.5+0) = (2.5, 0)', () => {
    expect(Array.from(hiResCam(slice).data)).toEqual([2.5, 0]);
  });
  it('LayerCAM: ReLU(Σ ReLU(g)⊙A) = (0.5+2, 0+0) = (2.5, 0)', () => {
    expect(Array.from(layerCam(slice).data)).toEqual([2.5, 0]);
  });
  it('XGrad-CAM: w = (Σ A·g / Σ A) = ((0.5−1.5)/4, 2/2) = (−0.25, 1) → ReLU(−0.25·A₀ + A₁) = (1.75, 0)', () => {
    const map = xGradCam(slice).data;
    expect(map[0]).toBeCloseTo(1.75, 6);
    expect(map[1]).toBe(0);
  });
  it('Grad-CAM++: weights from the closed form match a direct evaluation', () => {
    const a = (g: number, sumA: number): number => (g === 0 ? 0 : (g * g) / (2 * g * g + sumA * g ** 3 + 1e-7));
    const w0 = a(0.5, 4) * 0.5 + a(-0.5, 4) * 0;
    const w1 = a(1, 2) * 1 + a(1, 2) * 1;
    const map = gradCamPlusPlus(slice).data;
    expect(map[0]).toBeCloseTo(Math.max(0, w0 * 1 + w1 * 2), 6);
    expect(map[1]).toBeCloseTo(Math.max(0, w0 * 3 + w1 * 0), 6);
  });
  it('EigenCAM: a rank-one activation map is recovered up to scale', () => {
    const pattern = [0, 1, 4, 9];
    const channels = [2, -1, 0.5];
    const activation = Float32Array.from(channels.flatMap((c) => pattern.map((p) => c * p + 3)));
    const map = eigenCam(activation, [3, 2, 2]);
    const mean = pattern.reduce((a, b) => a + b) / 4;
    expect(
      cosine(
        map.data,
        pattern.map((p) => Math.max(0, p - mean)),
      ),
    ).toBeGreaterThan(0.9999);
  });
});

describe('faithfulness: deletion and insertion', () => {
  it('area under curve by the trapezoid rule', () => {
    expect(areaUnderCurve([0, 0.5, 1], [1, 0.5, 0])).toBeCloseTo(0.5, 12);
  });
  it('importance order: most important first, ties by position', () => {
    expect(Array.from(importanceOrder({ width: 2, height: 2, data: Float32Array.from([0.1, 0.9, 0.5, 0.9]) }, 2, 2))).toEqual([1, 3, 2, 0]);
  });
});

describe('identities and completeness on real sessions', () => {
  let classifier: Classifier;
  let explainer: Explainer;
  let input: Float32Array;
  beforeAll(async () => {
    classifier = await Classifier.load({
      name: 'fixture',
      modelPath: await ensureFixture({ depth: 50, bn: 'folded' }),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
    });
    explainer = await Explainer.load(classifier);
    input = (await preprocessBytes(await photoLike(500, 380, 'jpeg', 17), TORCHVISION_PREPROCESSING)).tensor;
  });
  afterAll(async () => {
    await explainer?.dispose();
    await classifier?.dispose();
  });

  it('Grad-CAM at conv5_x equals ReLU(CAM) up to a positive factor (1/HW), HiResCAM equals it, for several classes', async () => {
    // The best classes (a random fixture's unlikely classes can have a CAM that is negative everywhere).
    const classes = classifier.top((await classifier.run(input, 1)).logits[0], 4).map((c) => c.index);
    const result = await explainTensor(explainer, classifier, input, { classes, methods: ['gradcam', 'hirescam'] });
    const [, h, w] = classifier.stageMap!.head.featuresShape;
    for (const e of result.classes) {
      const cam = classActivationMap(result.activations.layer4, classifier.stageMap!.head.featuresShape, classifier.headWeights!, e.index);
      const reluCam = Float32Array.from(cam, (v) => Math.max(0, v));
      const gradcam = e.stageMaps.layer4.gradcam!.data;
      // α_k = w_ck / HW for GAP + FC, so Grad-CAM = ReLU(CAM)/HW exactly.
      for (let p = 0; p < reluCam.length; p++) expect(Math.abs(gradcam[p] * h * w - reluCam[p])).toBeLessThan(1e-4 * Math.max(1, Math.abs(reluCam[p])));
      // HiResCAM's elementwise gradient is w_ck/HW everywhere here: the same map as Grad-CAM.
      const hires = e.stageMaps.layer4.hirescam!.data;
      for (let p = 0; p < reluCam.length; p++) expect(Math.abs(hires[p] - gradcam[p])).toBeLessThan(1e-5 * Math.max(1, Math.abs(gradcam[p])));
      expect(reluCam.some((v) => v > 0)).toBe(true);
    }
    // Class-specific below the last stage too: two classes give different maps.
    const a = result.classes[1].stageMaps.layer2.gradcam!.data;
    const b = result.classes[2].stageMaps.layer2.gradcam!.data;
    expect(cosine(a, b)).toBeLessThan(0.999);
  });

  it('integrated gradients: completeness within the documented 5% at 32 steps, and closer with more steps', async () => {
    const target = classifier.top((await classifier.run(input, 1)).logits[0], 1)[0].index;
    const score = async (x: Float32Array): Promise<number> => (await classifier.run(x, 1)).logits[0][target];
    const difference = (await score(input)) - (await score(new Float32Array(input.length)));
    const gradientsOf = async (batch: Float32Array, count: number, c: number) =>
      (await explainer.run(batch, count, { classes: new Array<number>(count).fill(c) })).inputGradient;
    const gap = async (steps: number): Promise<number> => {
      const attribution = await integratedGradients(input, target, gradientsOf, { steps });
      let sum = 0;
      for (const v of attribution) sum += v;
      return Math.abs(sum - difference) / Math.abs(difference);
    };
    const coarse = await gap(8);
    const fine = await gap(32);
    expect(fine).toBeLessThan(0.05);
    expect(fine).toBeLessThan(coarse);
  });

  it('faithfulness: the Grad-CAM map deletes faster and inserts faster than its own reverse', async () => {
    const target = classifier.top((await classifier.run(input, 1)).logits[0], 1)[0].index;
    const result = await explainTensor(explainer, classifier, input, { classes: [target], methods: ['saliency'] });
    const map = result.classes[0].inputMaps.saliency!.map;
    const reverse = { ...map, data: map.data.map((v) => -v) };
    const good = await faithfulness(classifier, input, map, target, 8);
    const bad = await faithfulness(classifier, input, reverse, target, 8);
    expect(good.deletion[0]).toBeCloseTo(bad.deletion[0], 6);
    expect(good.deletion).toHaveLength(9);
    expect(good.deletionAuc).toBeLessThan(bad.deletionAuc);
    expect(good.insertionAuc).toBeGreaterThan(bad.insertionAuc);
  });
});

describe.runIf(hasTestdata)('the reference ResNet-50: every method runs, maps are finite and class-specific', () => {
  it('all methods, two classes; faithfulness for two of them', { timeout: 400_000 }, async () => {
    const classifier = await Classifier.load({
      name: 'ref',
      modelPath: REFERENCE_MODEL,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: imagenetLabels(),
      ep: 'cpu',
    });
    const explainer = await Explainer.load(classifier);
    try {
      const input = (await preprocessBytes(await photoLike(400, 300, 'jpeg', 2), TORCHVISION_PREPROCESSING)).tensor;
      const result = await explainTensor(explainer, classifier, input, {
        classes: [1, 2],
        methods: [
          'gradcam',
          'gradcam++',
          'xgradcam',
          'layercam',
          'hirescam',
          'eigencam',
          'saliency',
          'guided-backprop',
          'guided-gradcam',
          'integrated-gradients',
          'smoothgrad',
        ],
        integratedSteps: 8,
        smoothGradSamples: 4,
      });
      expect(result.classes.map((c) => c.index)).toEqual([1, 2]);
      for (const e of result.classes) {
        for (const stage of result.stages) for (const map of Object.values(e.stageMaps[stage.name])) expect(map.data.every(Number.isFinite)).toBe(true);
        for (const m of ['saliency', 'guided-backprop', 'guided-gradcam', 'integrated-gradients', 'smoothgrad'] as const) {
          expect(e.inputMaps[m]!.map.width).toBe(224);
          expect(e.inputMaps[m]!.attribution.some((v) => v !== 0)).toBe(true);
        }
      }
      expect(cosine(result.classes[0].inputGradient, result.classes[1].inputGradient)).toBeLessThan(0.99);
      const measured = await explainTensor(explainer, classifier, input, { classes: [1], methods: ['gradcam', 'guided-gradcam'], faithfulness: true });
      const curves = measured.classes[0].faithfulness!;
      expect(Object.keys(curves).sort()).toEqual(['gradcam', 'guided-gradcam']);
      for (const c of Object.values(curves)) {
        expect(c.deletion).toHaveLength(17);
        expect(c.deletionAuc).toBeGreaterThanOrEqual(0);
        expect(c.insertionAuc).toBeLessThanOrEqual(1);
      }
    } finally {
      await explainer.dispose();
      await classifier.dispose();
    }
  });
});
