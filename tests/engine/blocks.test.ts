// Residual-block discovery and the gated graph on generated ResNets: v1 and pre-activation v2,
// explicit and folded BatchNorm, renamed nodes, ResNet-18 … 152, opsets 7 … 22.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { discoverBlocks, resolveBlockIds } from '../../src-main/engine/blocks/discover.js';
import { addBlockGates, addBlockNorms, gateInput } from '../../src-main/engine/blocks/gated-graph.js';
import { probeInput } from '../../src-main/engine/infer/probe.js';
import { architectureSummary } from '../../src-main/engine/model/architecture.js';
import { describeModel } from '../../src-main/engine/model/inspect.js';
import { type OnnxModel, encodeModel } from '../../src-main/engine/model/onnx-proto.js';
import { FEATURES_SWITCH, HEATMAP_MAX_SWITCH, addStageReductions } from '../../src-main/engine/model/reduction-graph.js';
import { type ResNetGraphOptions, buildResNet } from '../fixtures/resnet-graph.js';

const BLOCKS: Record<number, number[]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] };
const label = (c: ResNetGraphOptions): string =>
  `resnet${c.depth} ${c.variant ?? 'v1'} ${c.bn ?? 'explicit'}${c.renameNodes ? ' renamed' : ''} opset ${c.opset ?? 13}`;

function discover(options: ResNetGraphOptions) {
  const graph = buildResNet(options);
  const info = describeModel(`resnet${options.depth}`, graph.model, 0, '');
  return { graph, info, map: discoverBlocks(graph.model, info) };
}

describe('block discovery', () => {
  const cases: ResNetGraphOptions[] = [
    { depth: 18 },
    { depth: 18, bn: 'folded', renameNodes: true, opset: 7 },
    { depth: 34, bn: 'folded', opset: 17 },
    { depth: 50 },
    { depth: 50, bn: 'folded', renameNodes: true, opset: 22 },
    { depth: 50, variant: 'v2' },
    { depth: 50, variant: 'v2', bn: 'folded', renameNodes: true, opset: 9 },
    { depth: 101, bn: 'folded' },
    { depth: 152, variant: 'v2', renameNodes: true },
  ];

  it.each(cases.map((c) => [label(c), c]))('%s', (_, options) => {
    const { graph, info, map } = discover(options);
    const counts = BLOCKS[options.depth];
    const ids = counts.flatMap((n, s) => Array.from({ length: n }, (_, i) => `layer${s + 1}.${i}`));
    expect(map.blocks.map((b) => b.id)).toEqual(ids);
    // The generator knows each block's output tensor, whatever it is called.
    expect(map.blocks.map((b) => b.output)).toEqual(graph.blockOutputs.flat());
    expect(map.blocks.every((b) => b.postActivation === ((options.variant ?? 'v1') === 'v1'))).toBe(true);
    // Projections where torchvision has `downsample`: the first block of each stage, except layer1 of the basic-block nets.
    const projected = map.blocks.filter((b) => b.downsample).map((b) => b.id);
    expect(projected).toEqual(options.depth < 50 ? ['layer2.0', 'layer3.0', 'layer4.0'] : ['layer1.0', 'layer2.0', 'layer3.0', 'layer4.0']);
    expect(map.blocks.filter((b) => b.stride === 2).map((b) => b.id)).toEqual(['layer2.0', 'layer3.0', 'layer4.0']);
    map.blocks.forEach((b, k) => {
      // Each block reads the previous block's output (the stem's for the first) ...
      expect(b.input).toBe(k === 0 ? graph.stemOutput : graph.blockOutputs.flat()[k - 1]);
      // ... and an identity shortcut is that very tensor; the branch never is.
      if (!b.downsample) expect(b.shortcut).toBe(b.input);
      expect(b.branch).not.toBe(b.input);
    });
    // The Model view's strip shows this layout before any photo ran, from the stage table alone: it must agree with discovery.
    const layout = architectureSummary(map.stages, info).blocks;
    expect(layout).toEqual(map.blocks.map((b) => ({ id: b.id, stage: b.stage, index: b.index, downsample: b.downsample, stride: b.stride })));
  });

  it('names an unknown id with every valid one', () => {
    const { map } = discover({ depth: 18 });
    expect(resolveBlockIds(map.blocks, ['layer2.1', 'layer2.1'])).toEqual(['layer2.1']);
    expect(() => resolveBlockIds(map.blocks, ['layer2.7'])).toThrow(
      "unknown block id layer2.7; this model's blocks are layer1.0, layer1.1, layer2.0, layer2.1, layer3.0, layer3.1, layer4.0, layer4.1",
    );
  });

  it('refuses a plain convolutional net without residual blocks, saying why', () => {
    const { model } = buildResNet({ depth: 18 });
    // Cut every shortcut by hand: each Add becomes its branch alone.
    const { map } = discover({ depth: 18 });
    const byAdd = new Map(map.blocks.map((b) => [b.sum, b]));
    const plain: OnnxModel = {
      ...model,
      graph: {
        ...model.graph,
        node: model.graph.node.map((n) => (byAdd.has(n.output[0]) ? { ...n, opType: 'Identity', input: [byAdd.get(n.output[0])?.branch ?? ''] } : n)),
      },
    };
    expect(() => discoverBlocks(plain, describeModel('plain', plain, 0, ''))).toThrow(/residual blocks unavailable: .*no residual blocks/);
  });
});

// ---------------------------------------------------------------------------------------------
// The gated graph against the ungated one and against graphs cut by hand.

/** The model with `ids`' residual branches removed by hand: each Add becomes its shortcut. */
function cutByHand(model: OnnxModel, blocks: ReturnType<typeof discoverBlocks>['blocks'], ids: string[]): OnnxModel {
  const cut = new Map(blocks.filter((b) => ids.includes(b.id)).map((b) => [b.sum, b.shortcut]));
  return {
    ...model,
    graph: {
      ...model.graph,
      node: model.graph.node.map((n) => (cut.has(n.output[0]) ? { ...n, opType: 'Identity', input: [cut.get(n.output[0]) as string], attribute: [] } : n)),
    },
  };
}

type Level = 'extended' | 'all';
const session = (model: OnnxModel, level: Level) =>
  ort.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: level,
    intraOpNumThreads: 2,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });

async function logits(s: ort.InferenceSession, input: Float32Array, extra: Record<string, ort.Tensor> = {}): Promise<Float32Array> {
  const out = await s.run({ input: new ort.Tensor('float32', input, [2, 3, 224, 224]), ...extra });
  return out.logits.data as Float32Array;
}

const gateFeeds = (ids: string[], zero: string[] = []): Record<string, ort.Tensor> =>
  Object.fromEntries(ids.map((id) => [gateInput(id), new ort.Tensor('float32', [zero.includes(id) ? 0 : 1], [])]));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('gated graph', () => {
  const cases: ResNetGraphOptions[] = [
    { depth: 18, opset: 7 },
    { depth: 34, bn: 'folded', renameNodes: true },
    { depth: 50, bn: 'folded' },
    { depth: 50, variant: 'v2', bn: 'folded', renameNodes: true, opset: 11 },
    { depth: 50, opset: 22 },
    { depth: 152, bn: 'folded' },
  ];
  const input = probeInput([2, 3, 224, 224]);

  // onnxruntime's 'all' level adds the NCHWc layout, which fuses a residual Add into the branch's last
  // convolution (accumulating the shortcut first): the gate's Mul prevents that fusion, so at 'all' the
  // two graphs run different kernels. Holding the kernels equal ('extended': every fusion but the
  // layout's), the gates themselves must change no bit.
  it.each(cases.map((c) => [label(c), c]))('%s: all gates 1 → bit-identical logits; gates 0 → bit-identical to branches cut by hand', async (_, options) => {
    const { graph, map } = discover(options);
    const ids = map.blocks.map((b) => b.id);
    const gated = addBlockGates(graph.model, map.blocks);
    const [plain, withGates] = await Promise.all([session(graph.model, 'extended'), session(gated, 'extended')]);
    const reference = await logits(plain, input);
    expect(await logits(withGates, input, gateFeeds(ids))).toEqual(reference);
    // A downsampling block, a middle one, and several at once.
    const middle = ids[Math.floor(ids.length / 2)];
    // (ResNet-152 takes seconds per session on two cores: one lesion there, several blocks at once.)
    const lesions =
      options.depth >= 101 ? [['layer2.0', middle, ids[ids.length - 1]]] : [['layer2.0'], [middle], ['layer1.1', 'layer3.0', ids[ids.length - 1]]];
    for (const drop of lesions) {
      const byHand = await session(cutByHand(graph.model, map.blocks, drop), 'extended');
      const expected = await logits(byHand, input);
      const lesioned = await logits(withGates, input, gateFeeds(ids, drop));
      expect(lesioned, drop.join('+')).toEqual(expected);
      expect(maxAbsDiff(expected, reference), drop.join('+')).toBeGreaterThan(1e-4); // the lesion is visible
      await byHand.release();
    }
    await Promise.all([plain.release(), withGates.release()]);
  });

  it('at the production level (all) the intact gated graph stays within float32 rounding of the plain one', async () => {
    const { graph, map } = discover({ depth: 50 });
    const ids = map.blocks.map((b) => b.id);
    const [plain, withGates] = await Promise.all([session(graph.model, 'all'), session(addBlockGates(graph.model, map.blocks), 'all')]);
    const a = await logits(plain, input);
    const b = await logits(withGates, input, gateFeeds(ids));
    let scale = 0;
    for (const v of a) scale = Math.max(scale, Math.abs(v));
    expect(maxAbsDiff(a, b) / scale).toBeLessThan(1e-5);
    await Promise.all([plain.release(), withGates.release()]);
  });

  it('norms behind the feature switch: L2 of each block tensor, zero residual where gated off, logits unchanged', async () => {
    const { graph, map, info } = discover({ depth: 18, variant: 'v2', opset: 18 });
    const ids = map.blocks.map((b) => b.id);
    const stages = map.stages.stages;
    // The full lens graph, and the tensors the norms should equal exposed as outputs to check them.
    const exposedBlocks = map.blocks.flatMap((b) => [b.input, b.shortcut, b.output]);
    const full = addBlockNorms(addStageReductions(addBlockGates(graph.model, map.blocks), stages, undefined), map.blocks);
    const probe: OnnxModel = { ...full, graph: { ...full.graph, output: [...full.graph.output, ...[...new Set(exposedBlocks)].map((name) => ({ name }))] } };
    expect(info.input.name).toBe('input');
    const s = await session(probe, 'all');
    const feeds = (on: boolean, zero: string[] = []) => ({
      input: new ort.Tensor('float32', input, [2, 3, 224, 224]),
      [FEATURES_SWITCH]: new ort.Tensor('bool', [on], []),
      [HEATMAP_MAX_SWITCH]: new ort.Tensor('bool', [false], []),
      ...gateFeeds(ids, zero),
    });
    const on = await s.run(feeds(true, ['layer3.1']));
    const off = await s.run(feeds(false, ['layer3.1']));
    expect(on.logits.data).toEqual(off.logits.data);
    const norm = (data: Float32Array, image: number): number => {
      const per = data.length / 2;
      let sum = 0;
      for (let i = image * per; i < (image + 1) * per; i++) sum += data[i] * data[i];
      return Math.sqrt(sum);
    };
    for (const b of map.blocks) {
      for (const image of [0, 1]) {
        const output = (on[`reslens.norm.${b.output}`].data as Float32Array)[image];
        expect(output / norm(on[b.output].data as Float32Array, image) - 1).toBeLessThan(1e-5);
        const shortcut = (on[`reslens.norm.${b.shortcut}`].data as Float32Array)[image];
        expect(Math.abs(shortcut / norm(on[b.shortcut].data as Float32Array, image) - 1)).toBeLessThan(1e-5);
      }
      const residual = on[`reslens.norm.reslens.${b.id}.gated_branch`].data as Float32Array;
      if (b.id === 'layer3.1') expect([...residual]).toEqual([0, 0]);
      else expect(residual[0]).toBeGreaterThan(0);
      // v2 with the branch removed: the output is the shortcut alone.
      if (b.id === 'layer3.1') expect(on[b.output].data).toEqual(on[b.shortcut].data);
    }
    await s.release();
  });
});
