// The in-graph reductions (model/reduction-graph.ts) against the JavaScript reference reductions
// of the full stage tensors from the same run, across opsets (attribute vs input spellings),
// v1/v2 graphs and both heatmap modes; and the switch leaves the logits bit-identical.
import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockLens, releaseBlockLens } from '../../src-main/engine/blocks/lens.js';
import { extractFeatures } from '../../src-main/engine/features/extract.js';
import { classActivationMap, rankChannels, reduceStage } from '../../src-main/engine/features/reduce.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadAndInspect } from '../../src-main/engine/model/inspect.js';
import { GRAPH_TOP_CHANNELS, GRAPH_TOP_CLASSES, addStageReductions } from '../../src-main/engine/model/reduction-graph.js';
import { discoverStages } from '../../src-main/engine/model/stages.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture, type FixtureSpec } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { writeWithHead } from '../helpers/head-variants.js';
import { relativeL2 } from '../helpers/compare.js';
import { REFERENCE_MODEL, hasTestdata, imagenetLabels } from '../helpers/testdata.js';

const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function checkAgainstReference(classifier: Classifier, input: Float32Array): Promise<void> {
  const map = classifier.stageMap;
  if (!map) throw new Error(`no stages: ${classifier.stagesError}`);
  const full = await classifier.run(input, 1, { features: true });
  const plain = await classifier.run(input, 1);
  // Switched off, batches of several images still run (before opset 11 the off-branch has fixed shapes).
  const pair = new Float32Array(input.length * 2);
  pair.set(input);
  pair.set(input, input.length);
  const batched = await classifier.run(pair, 2);
  for (const logits of batched.logits) expect(relativeL2(logits, plain.logits[0])).toBeLessThan(1e-5);
  for (const mode of ['mean', 'max'] as const) {
    const fast = await classifier.run(input, 1, { summary: { heatmapMode: mode } });
    expect(sameBits(fast.logits[0], plain.logits[0]), 'logits with the reductions switched on').toBe(true);
    const summary = fast.summaries?.[0];
    expect(summary).toBeDefined();
    // The head's features leave the session only when more classes are asked for than the graph maps.
    expect(summary!.headFeatures).toBeUndefined();
    const more = (await classifier.run(input, 1, { summary: { heatmapMode: mode, classes: GRAPH_TOP_CLASSES + 1 } })).summaries![0];
    expect(sameBits(more.headFeatures!, full.features![0].headFeatures), 'head features fetched for an 11th class').toBe(true);
    // Class activation maps: the graph's top classes and maps equal the JavaScript ones.
    const top = classifier.top(plain.logits[0], summary!.camClasses.length);
    expect(summary!.camClasses).toEqual(top.map((t) => t.index));
    const camPlane = summary!.cams.length / summary!.camClasses.length;
    summary!.camClasses.forEach((c, i) => {
      const reference = classActivationMap(full.features![0].headFeatures, map.head.featuresShape, classifier.headWeights!, c);
      expect(relativeL2(summary!.cams.subarray(i * camPlane, (i + 1) * camPlane), reference), `CAM ${c}`).toBeLessThan(1e-5);
    });
    for (const stage of map.stages) {
      const values = full.features![0].stages[stage.name];
      const reference = reduceStage(values, stage.shape, mode);
      const ours = summary!.stages[stage.name];
      const [channels, height, width] = stage.shape;
      const plane = height * width;
      const label = `${stage.name} ${mode}`;
      // Heatmap before normalisation: recompute the reference plane from the normalised one.
      const referencePlane = Float32Array.from(reference.heatmap.data, (v) => reference.heatmap.min + v * (reference.heatmap.max - reference.heatmap.min));
      expect(ours.heatmap.length, label).toBe(plane);
      expect(relativeL2(ours.heatmap, referencePlane), label).toBeLessThan(1e-5);
      expect(relativeL2(ours.channelMeans, Float32Array.from(reference.channelMeans)), label).toBeLessThan(1e-5);
      expect(ours.max, label).toBeCloseTo(reference.stats.max, 5);
      expect(1 - ours.nonZeroFraction, label).toBeCloseTo(reference.stats.zeroFraction, 6);
      // Ranking: the r-th channel the graph picked has the r-th best mean (ties may swap places).
      const k = Math.min(GRAPH_TOP_CHANNELS, channels);
      const best = rankChannels(reference.channelMeans, k);
      expect(ours.topChannels, label).toHaveLength(k);
      ours.topChannels.forEach((channel, rank) => {
        expect(Math.abs(reference.channelMeans[channel] - best[rank].meanActivation), `${label} rank ${rank}`).toBeLessThan(
          1e-5 * Math.max(1, Math.abs(best[rank].meanActivation)),
        );
        // Each gathered map is that channel of the full tensor, bit for bit.
        expect(
          sameBits(ours.topMaps.subarray(rank * plane, (rank + 1) * plane), values.subarray(channel * plane, (channel + 1) * plane)),
          `${label} map ${rank}`,
        ).toBe(true);
      });
    }
  }
}

/**
 * The block lens keeps its reductions behind the features switch (the classifier's feature graph
 * has them inline): with every block intact its summaries in both heatmap modes are the
 * classifier's, and switched off it still classifies.
 */
async function checkLensAgrees(classifier: Classifier, input: Float32Array): Promise<void> {
  const map = classifier.stageMap!;
  const lens = await blockLens(classifier);
  try {
    const plain = (await classifier.run(input, 1)).logits[0];
    expect(relativeL2((await lens.run(input, 1)).logits[0], plain), 'lens switched off').toBeLessThan(1e-5);
    for (const mode of ['mean', 'max'] as const) {
      const viaLens = (await lens.run(input, 1, { summary: { heatmapMode: mode } })).summaries![0];
      const viaClassifier = (await classifier.run(input, 1, { summary: { heatmapMode: mode } })).summaries![0];
      for (const stage of map.stages) {
        const [ours, theirs] = [viaLens.stages[stage.name], viaClassifier.stages[stage.name]];
        const label = `lens ${stage.name} ${mode}`;
        expect(relativeL2(ours.heatmap, theirs.heatmap), label).toBeLessThan(1e-4);
        expect(relativeL2(ours.channelMeans, theirs.channelMeans), label).toBeLessThan(1e-4);
        expect(ours.max, label).toBeCloseTo(theirs.max, 3);
        expect(ours.nonZeroFraction, label).toBeCloseTo(theirs.nonZeroFraction, 4);
      }
    }
  } finally {
    await releaseBlockLens(classifier);
  }
}

describe('in-graph stage reductions equal the JavaScript reference', () => {
  let input: Float32Array;
  beforeAll(async () => {
    input = (await preprocessBytes(await photoLike(640, 480, 'jpeg', 21), TORCHVISION_PREPROCESSING)).tensor;
  });

  const specs: FixtureSpec[] = [
    { depth: 18, bn: 'explicit', opset: 7 },
    { depth: 18, bn: 'folded', opset: 11 },
    { depth: 18, bn: 'folded', renameNodes: true, opset: 18 },
    { depth: 50, variant: 'v2', bn: 'explicit' },
  ];
  it.each(specs.map((s) => [`resnet${s.depth} ${s.variant ?? 'v1'} ${s.bn} opset ${s.opset ?? 'default'}`, s] as const))('%s', async (_, spec) => {
    const classifier = await Classifier.load({
      name: 'fixture',
      modelPath: await ensureFixture(spec),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
    });
    try {
      await checkAgainstReference(classifier, input);
      await checkLensAgrees(classifier, input);
    } finally {
      await classifier.dispose();
    }
  });

  it.runIf(hasTestdata)('reference ResNet-50 export', async () => {
    const classifier = await Classifier.load({
      name: 'ref',
      modelPath: REFERENCE_MODEL,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: imagenetLabels(),
      ep: 'cpu',
    });
    try {
      await checkAgainstReference(classifier, input);
    } finally {
      await classifier.dispose();
    }
  });
});

describe('where the reductions sit', () => {
  // Each If costs tens of µs a run beyond its nodes (see model/reduction-graph.ts): the feature
  // session's graph keeps one, for the max heatmaps; the lens's gates every stage and the maps.
  it('inline: one If (the max heatmaps) in the whole graph; switched: one per stage and one for the maps, each with a nested max If', async () => {
    const { model, info } = await loadAndInspect(await ensureFixture({ depth: 18, bn: 'folded', opset: 11 }));
    const map = discoverStages(model, info);
    const cam = { scores: info.output.name, head: map.head };
    const ifs = (m: typeof model) => m.graph.node.filter((n) => n.opType === 'If').map((n) => n.name);
    const inline = addStageReductions(model, map.stages, cam, 'inline');
    expect(ifs(inline)).toEqual(['reslens.heatmap_max.all']);
    expect(inline.graph.input.map((i) => i.name)).not.toContain('reslens.features');
    const switched = addStageReductions(model, map.stages, cam, 'switched');
    expect(ifs(switched).sort()).toEqual(['reslens.cam', ...map.stages.map((s) => `reslens.reductions.${s.name}`)].sort());
    expect(
      model.graph.node.some((n) => n.opType === 'If'),
      'the original is not modified',
    ).toBe(false);
  });
});

describe('classifier heads stored as Gemm, MatMul + Add, or a 1×1 Conv', () => {
  let folder: string;
  let input: Float32Array;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-heads-'));
    input = (await preprocessBytes(await photoLike(400, 300, 'jpeg', 4), TORCHVISION_PREPROCESSING)).tensor;
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it.each([
    ['matmul', 'MatMul'],
    ['conv', 'Conv'],
  ] as const)('%s head: found, same logits, exact in-graph CAMs', async (layout, op) => {
    const source = await ensureFixture({ depth: 18, bn: 'folded' });
    const original = await Classifier.load({ name: 'gemm', modelPath: source, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu', stages: false });
    const rewritten = await Classifier.load({
      name: layout,
      modelPath: await writeWithHead(source, path.join(folder, `${layout}.onnx`), layout),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
    });
    try {
      expect(rewritten.stageMap?.head.op).toBe(op);
      const expected = (await original.run(input, 1)).logits[0];
      expect(relativeL2((await rewritten.run(input, 1)).logits[0], expected)).toBeLessThan(1e-5);
      await checkAgainstReference(rewritten, input);
      const { result } = await extractFeatures(rewritten, await writePhoto(folder), { topClasses: 5 });
      for (const cam of result.cams) expect(Math.abs(cam.rawMean - (cam.logit - cam.bias))).toBeLessThan(1e-4 * Math.max(1, Math.abs(cam.logit)));
    } finally {
      await original.dispose();
      await rewritten.dispose();
    }
  });
});

async function writePhoto(folder: string): Promise<string> {
  const file = path.join(folder, 'photo.jpg');
  await writeFile(file, await photoLike(360, 300, 'jpeg', 12));
  return file;
}

describe('feature extraction: the fast path gives the full path result', () => {
  let folder: string;
  let photo: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-reductions-'));
    photo = path.join(folder, 'photo.jpg');
    await writeFile(photo, await photoLike(500, 400, 'jpeg', 8));
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it('heatmaps, statistics, top channels and CAMs agree; more channels than the graph keeps uses the full tensors', async () => {
    const classifier = await Classifier.load({
      name: 'fixture',
      modelPath: await ensureFixture({ depth: 50, bn: 'folded' }),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
    });
    try {
      const fast = (await extractFeatures(classifier, photo, { topChannels: 6 })).result;
      const full = (await extractFeatures(classifier, photo, { topChannels: 6, keepTensors: true })).result;
      expect(fast.tensors).toBeUndefined();
      expect(full.tensors).toBeDefined();
      expect(fast.top.map((t) => t.index)).toEqual(full.top.map((t) => t.index));
      for (const [i, stage] of fast.stages.entries()) {
        const other = full.stages[i];
        expect(relativeL2(stage.heatmap.data, other.heatmap.data), stage.name).toBeLessThan(1e-4);
        expect(stage.stats.mean).toBeCloseTo(other.stats.mean, 5);
        expect(stage.stats.max).toBeCloseTo(other.stats.max, 5);
        expect(stage.stats.std).toBeUndefined();
        expect(other.stats.std).toBeGreaterThan(0);
        expect(stage.stats.zeroFraction).toBeCloseTo(other.stats.zeroFraction, 6);
        expect(stage.topChannels).toHaveLength(6);
        expect(stage.topChannels.map((c) => c.meanActivation)).toEqual(other.topChannels.map((c) => expect.closeTo(c.meanActivation, 5)));
      }
      for (const [i, cam] of fast.cams.entries()) expect(relativeL2(cam.map.data, full.cams[i].map.data)).toBeLessThan(1e-5);
      // More classes than the graph maps: the rest come from the head's features, in the same order as the full path.
      const classes = GRAPH_TOP_CLASSES + 2;
      const wide = (await extractFeatures(classifier, photo, { topChannels: 6, topClasses: classes })).result;
      const wideFull = (await extractFeatures(classifier, photo, { topChannels: 6, topClasses: classes, keepTensors: true })).result;
      expect(wide.cams.map((c) => c.index)).toEqual(wideFull.cams.map((c) => c.index));
      expect(wide.cams).toHaveLength(classes);
      for (const [i, cam] of wide.cams.entries()) expect(relativeL2(cam.map.data, wideFull.cams[i].map.data), `CAM ${i}`).toBeLessThan(1e-5);
      const many = (await extractFeatures(classifier, photo, { topChannels: GRAPH_TOP_CHANNELS + 1 })).result;
      expect(many.stages[1].topChannels).toHaveLength(GRAPH_TOP_CHANNELS + 1);
    } finally {
      await classifier.dispose();
    }
  });
});

describe('a damaged cached feature graph', () => {
  it('still classifies, says why feature maps are off at the first feature request, and is rebuilt on the next load', async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'reslens-cache-'));
    const modelPath = await ensureFixture({ depth: 18, bn: 'folded' });
    const load = () => Classifier.load({ name: 'fixture', modelPath, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu', cacheDir });
    const input = (await preprocessBytes(await photoLike(320, 240, 'jpeg', 3), TORCHVISION_PREPROCESSING)).tensor;
    try {
      const first = await load();
      const expected = (await first.run(input, 1)).logits[0].slice();
      await first.dispose();
      const exposedDir = path.join(cacheDir, 'exposed');
      const [edited] = (await readdir(exposedDir)).filter((f) => f.endsWith('.onnx'));
      await truncate(path.join(exposedDir, edited), 1000);
      await rm(path.join(cacheDir, 'optimized'), { recursive: true, force: true });

      const damaged = await load();
      try {
        // Classification runs the model as it is: untouched by the damaged feature graph.
        expect(sameBits((await damaged.run(input, 1)).logits[0], expected)).toBe(true);
        await expect(damaged.run(input, 1, { summary: { heatmapMode: 'mean' } })).rejects.toThrow(
          /feature maps unavailable: onnxruntime refused the graph with stage outputs/,
        );
        expect(damaged.stageMap).toBeUndefined();
        expect(damaged.stagesError).toMatch(/feature maps unavailable: onnxruntime refused the graph with stage outputs/);
        expect(await damaged.prepareFeatures()).toBe(false);
        expect(sameBits((await damaged.run(input, 1)).logits[0], expected), 'classification after the refusal').toBe(true);
      } finally {
        await damaged.dispose();
      }

      const rebuilt = await load();
      try {
        expect(await rebuilt.prepareFeatures()).toBe(true);
        expect(rebuilt.stagesError).toBeUndefined();
        expect((await rebuilt.run(input, 1, { summary: { heatmapMode: 'mean' } })).summaries).toHaveLength(1);
      } finally {
        await rebuilt.dispose();
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
