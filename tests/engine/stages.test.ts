// Stage discovery from graph structure: torchvision-style v1 and pre-activation v2 graphs, BN
// explicit and folded, renamed nodes, several opsets and depths, and the reference export.
import { describe, expect, it } from 'vitest';
import { architectureSummary } from '../../src-main/engine/model/architecture.js';
import { describeModel, loadAndInspect } from '../../src-main/engine/model/inspect.js';
import { discoverStages } from '../../src-main/engine/model/stages.js';
import { STAGE_NAMES } from '../../src-main/engine/core/vocabulary.js';
import { type ResNetGraphOptions, buildResNet } from '../fixtures/resnet-graph.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { tinyClassifier } from '../helpers/tiny-models.js';
import { decodeModel } from '../../src-main/engine/model/onnx-proto.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** DESIGN.md's stage table at 224×224. */
const BOTTLENECK_SHAPES = [
  [64, 56, 56],
  [256, 56, 56],
  [512, 28, 28],
  [1024, 14, 14],
  [2048, 7, 7],
];
const BASIC_SHAPES = [
  [64, 56, 56],
  [64, 56, 56],
  [128, 28, 28],
  [256, 14, 14],
  [512, 7, 7],
];
const BLOCKS: Record<number, number[]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] };

function discover(options: ResNetGraphOptions) {
  const graph = buildResNet(options);
  const info = describeModel(`resnet${options.depth}`, graph.model, 0, '');
  return { graph, info, map: discoverStages(graph.model, info) };
}

describe('stage discovery', () => {
  const cases: ResNetGraphOptions[] = [
    { depth: 18, bn: 'explicit' },
    { depth: 18, bn: 'folded', renameNodes: true },
    { depth: 18, bn: 'explicit', opset: 7 },
    { depth: 34, bn: 'folded', opset: 17 },
    { depth: 50, bn: 'explicit' },
    { depth: 50, bn: 'folded', renameNodes: true, opset: 11 },
    { depth: 50, variant: 'v2', bn: 'explicit' },
    { depth: 50, variant: 'v2', bn: 'folded', renameNodes: true },
    { depth: 101, bn: 'folded' },
    { depth: 152, bn: 'folded' },
    { depth: 152, variant: 'v2', bn: 'explicit', renameNodes: true },
  ];

  it.each(cases.map((c) => [`resnet${c.depth} ${c.variant ?? 'v1'} ${c.bn}${c.renameNodes ? ' renamed' : ''} opset ${c.opset ?? 13}`, c]))(
    '%s',
    (_, options) => {
      const { graph, map } = discover(options);
      expect(map.stages.map((s) => s.name)).toEqual([...STAGE_NAMES]);
      expect(map.stages.map((s) => s.shape)).toEqual(options.depth < 50 ? BASIC_SHAPES : BOTTLENECK_SHAPES);
      expect(map.stages.slice(1).map((s) => s.blocks)).toEqual(BLOCKS[options.depth]);
      // The tensors the generator knows to be the stage outputs, whatever they are called.
      expect(map.stages.map((s) => s.tensor)).toEqual([graph.stemOutput, ...graph.stageOutputs]);
      expect(map.totalLayers).toBe(options.depth);
      expect(map.head.classes).toBe(1000);
      expect(map.head.weightShape).toEqual([1000, options.depth < 50 ? 512 : 2048]);
    },
  );

  it.runIf(hasTestdata)('finds the reference export stage tensors named in its manifest', async () => {
    const manifest = JSON.parse(readFileSync(path.join(TESTDATA, 'manifest.json'), 'utf8')) as {
      model: { stage_tensors: Record<string, string>; blocks_per_stage: number[] };
    };
    const { model, info } = await loadAndInspect(REFERENCE_MODEL);
    const map = discoverStages(model, info);
    expect(Object.fromEntries(map.stages.map((s) => [s.name, s.tensor]))).toEqual(manifest.model.stage_tensors);
    expect(map.stages.slice(1).map((s) => s.blocks)).toEqual(manifest.model.blocks_per_stage);
  });

  it('summarises the architecture the paper way: 50 and 152 layers, ~4.1 and ~11.5 G multiply-adds', () => {
    for (const [depth, low, high] of [
      [50, 3.8e9, 4.15e9],
      [152, 11.3e9, 11.6e9],
    ]) {
      const { info, map } = discover({ depth: depth as 50 | 152, bn: 'folded' });
      const summary = architectureSummary(map, info);
      expect(summary.name).toBe(`ResNet-${depth}`);
      expect(summary.totalLayers).toBe(depth);
      expect(summary.layerCount).toBe(`1 + 3×(${BLOCKS[depth].join('+')}) + 1 = ${depth}`);
      expect(summary.totalMacs).toBeGreaterThan(low);
      expect(summary.totalMacs).toBeLessThan(high);
      expect(summary.rows.map((r) => r.paperName)).toEqual(['conv1', 'conv2_x', 'conv3_x', 'conv4_x', 'conv5_x']);
      expect(summary.rows[1].pattern).toBe(`[1×1, 64; 3×3, 64; 1×1, 256] × 3`);
      expect(summary.rows.map((r) => r.outputSize)).toEqual(['56×56', '56×56', '28×28', '14×14', '7×7']);
      // Stage MACs plus the head add up to the model's total.
      expect(summary.rows.reduce((s, r) => s + r.macs, 0) + summary.head.macs).toBe(info.macs);
    }
  });

  it('says why when a model is not a ResNet', () => {
    const model = decodeModel(tinyClassifier(4));
    const info = describeModel('tiny', model, 0, '');
    expect(() => discoverStages(model, info)).toThrow(/feature maps unavailable: no residual blocks/);
  });
});
