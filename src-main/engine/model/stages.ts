// Finds the ResNet stages (stem, layer1..layer4 = conv2_x..conv5_x) and the classifier head from the
// graph's structure alone: no node or tensor names are trusted, because torchvision, the ONNX model
// zoo (v1 and pre-activation v2) and Hugging Face exports all name things differently.
//
// The trunk is found as the graph's "cut" tensors: tensors that every path from the input to the
// output passes through. Inside a residual block there are two parallel paths, so the cuts are
// exactly the block boundaries (plus the stem's and head's sequential nodes). A block output is a
// cut produced by the residual Add (v2) or by the Relu right after it (v1); consecutive blocks at
// the same spatial size form a stage.
import { EngineError } from '../core/errors.js';
import { type Shape, analyseShapes } from './graph-shapes.js';
import type { ModelInfo } from './inspect.js';
import { type OnnxGraph, type OnnxModel, intAttribute, intsAttribute, toNumber } from './onnx-proto.js';
import type { ReceptiveFieldValue } from '../core/receptive-field-box.js';
import { ErrorCode, PAPER_NAMES, STAGE_NAMES, type StageName } from '../core/vocabulary.js';
import { type ChainLayer, INPUT_FIELD, extendField } from './receptive-field.js';

/** The ResNet paper's names for the same stages. */

export interface ConvSpec {
  kernel: [number, number];
  channels: number;
  stride: number;
}

export interface StageInfo {
  name: StageName;
  paperName: string;
  /** Graph tensor holding the stage's output. */
  tensor: string;
  /** [C, H, W] for the model's input size. */
  shape: [number, number, number];
  blocks: number;
  /** Weight layers counted the paper's way (convolutions on the main path; shortcuts excluded). */
  layers: number;
  /** The main-path convolutions of one block (the stem: its convolutions), as in the paper's table. */
  blockConvs: ConvSpec[];
  params: number;
  macs: number;
  /** What one position of the stage's map sees of the input (from the main path's kernel/stride chain). */
  receptiveField: ReceptiveFieldValue;
}

export interface HeadInfo {
  /** The tensor the global pool reads: the features a class activation map is computed from. */
  features: string;
  featuresShape: [number, number, number];
  op: 'Gemm' | 'MatMul' | 'Conv';
  /** Classifier weight initializer, and its layout as stored. */
  weight: string;
  weightShape: number[];
  /** True when the stored weight is [classes, features] (Gemm transB=1, or Conv); false for [features, classes]. */
  classesFirst: boolean;
  bias?: string;
  classes: number;
}

export interface StageMap {
  stages: StageInfo[];
  head: HeadInfo;
  /** Weight layers the paper's way: stem conv + main-path convs + the fully connected layer. */
  totalLayers: number;
  totalMacs: number;
  totalParams: number;
}

class StageDiscoveryError extends EngineError {
  constructor(message: string) {
    super(ErrorCode.UNSUPPORTED_MODEL, `feature maps unavailable: ${message}`);
  }
}

export interface Trunk {
  /** Cut tensors in graph order with the index of the node producing them (-1 for the input). */
  cuts: { tensor: string; node: number }[];
  producer: Map<string, number>;
  consumers: Map<string, number[]>;
}

export function isConstant(graph: OnnxGraph): (tensor: string) => boolean {
  const constants = new Set(graph.initializer.map((t) => t.name));
  for (const node of graph.node) {
    const dynamicInput = node.input.some((i) => i !== '' && !constants.has(i));
    if (!dynamicInput) for (const o of node.output) constants.add(o);
  }
  return (tensor) => tensor === '' || constants.has(tensor);
}

export function findTrunk(graph: OnnxGraph, inputName: string): Trunk {
  const constant = isConstant(graph);
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const remaining = new Map<string, number>();
  graph.node.forEach((node, index) => {
    for (const o of node.output) producer.set(o, index);
    for (const i of new Set(node.input)) {
      if (constant(i)) continue;
      consumers.set(i, [...(consumers.get(i) ?? []), index]);
      remaining.set(i, (remaining.get(i) ?? 0) + 1);
    }
  });
  for (const output of graph.output) remaining.set(output.name, (remaining.get(output.name) ?? 0) + 1);

  const live = new Set<string>([inputName]);
  const cuts: Trunk['cuts'] = [{ tensor: inputName, node: -1 }];
  graph.node.forEach((node, index) => {
    for (const i of new Set(node.input)) {
      if (constant(i) || !live.has(i)) continue;
      const left = (remaining.get(i) ?? 1) - 1;
      remaining.set(i, left);
      if (left <= 0) live.delete(i);
    }
    for (const o of node.output) if (!constant(o) && (remaining.get(o) ?? 0) > 0) live.add(o);
    if (live.size === 1) {
      const [only] = live;
      if (producer.get(only) === index) cuts.push({ tensor: only, node: index });
    }
  });
  return { cuts, producer, consumers };
}

/** A trunk cut that ends a residual block: the Add's output (v2) or the Relu right after the Add (v1). */
export interface BlockEnd {
  tensor: string;
  node: number;
  /** Index of the residual Add. */
  add: number;
  postActivation: boolean;
}

/** The residual blocks' ends on the trunk, in graph order (also used by blocks/discover.ts). */
export function findBlockEnds(graph: OnnxGraph, trunk: Trunk, inputName: string): BlockEnd[] {
  const constant = isConstant(graph);
  const isResidualAdd = (nodeIndex: number | undefined): nodeIndex is number => {
    if (nodeIndex === undefined) return false;
    const node = graph.node[nodeIndex];
    return (
      (node.opType === 'Add' || node.opType === 'Sum') &&
      node.input.length === 2 &&
      node.input.every((i) => !constant(i) && (trunk.producer.has(i) || i === inputName))
    );
  };
  const ends: BlockEnd[] = [];
  for (const cut of trunk.cuts) {
    const node = graph.node[cut.node];
    if (!node) continue;
    const next = trunk.consumers.get(cut.tensor) ?? [];
    // v1 blocks end in Add → Relu: the Relu's output stands for the block, not the Add's.
    if (node.opType !== 'Relu' && next.length === 1 && graph.node[next[0]].opType === 'Relu') continue;
    const add = node.opType === 'Relu' ? trunk.producer.get(node.input[0]) : cut.node;
    if (!isResidualAdd(add)) continue;
    ends.push({ tensor: cut.tensor, node: cut.node, add, postActivation: node.opType === 'Relu' });
  }
  return ends;
}

const chw = (shape: Shape | undefined): [number, number, number] | undefined => (shape && shape.length === 4 ? [shape[1], shape[2], shape[3]] : undefined);

/** Learned values used by nodes in [first, last] (BatchNorm running statistics excluded). */
function paramsInRange(graph: OnnxGraph, first: number, last: number): number {
  const sizes = new Map(graph.initializer.map((t) => [t.name, t.dims.map(toNumber).reduce((p, d) => p * d, 1)]));
  let total = 0;
  for (let n = first; n <= last; n++) {
    const node = graph.node[n];
    const inputs = node.opType === 'BatchNormalization' ? node.input.slice(1, 3) : node.input;
    for (const i of inputs) total += sizes.get(i) ?? 0;
  }
  return total;
}

function macsInRange(macs: Map<number, number>, first: number, last: number): number {
  let total = 0;
  for (const [node, value] of macs) if (node >= first && node <= last) total += value;
  return total;
}

/** A Conv or MaxPool node as a link of the receptive-field chain. */
function chainLayer(graph: OnnxGraph, nodeIndex: number, shapes: Map<string, Shape>): ChainLayer {
  const node = graph.node[nodeIndex];
  const kernel =
    node.opType === 'Conv' ? (shapes.get(node.input[1])?.[2] ?? intsAttribute(node, 'kernel_shape', [1])[0]) : intsAttribute(node, 'kernel_shape', [1])[0];
  return { kernel, stride: intsAttribute(node, 'strides', [1, 1])[0], pad: intsAttribute(node, 'pads', [0, 0, 0, 0])[0] };
}

function convSpec(graph: OnnxGraph, nodeIndex: number, shapes: Map<string, Shape>): ConvSpec {
  const node = graph.node[nodeIndex];
  const w = shapes.get(node.input[1]) ?? [0, 0, 1, 1];
  return { kernel: [w[2], w[3]], channels: w[0], stride: intsAttribute(node, 'strides', [1, 1])[0] };
}

/** Finds the classifier head after the last stage: global pool → (flatten) → Gemm / MatMul / 1×1 Conv. */
function findHead(graph: OnnxGraph, trunk: Trunk, fromNode: number, shapes: Map<string, Shape>): HeadInfo {
  const initializers = new Map(graph.initializer.map((t) => [t.name, t.dims.map(toNumber)]));
  for (let n = fromNode + 1; n < graph.node.length; n++) {
    const node = graph.node[n];
    const isGlobalPool =
      node.opType === 'GlobalAveragePool' ||
      (node.opType === 'ReduceMean' && intsAttribute(node, 'axes', []).join() === '2,3') ||
      (node.opType === 'AveragePool' &&
        (() => {
          const s = shapes.get(node.input[0]);
          return !!s && intsAttribute(node, 'kernel_shape', []).join() === `${s[2]},${s[3]}`;
        })());
    if (!isGlobalPool) continue;
    const features = node.input[0];
    const featuresShape = chw(shapes.get(features));
    if (!featuresShape) throw new StageDiscoveryError(`the global pool's input ${features} has no known [C,H,W] shape`);
    // Follow the pooled tensor through shape-only ops to the classifier.
    let tensor = node.output[0];
    for (let guard = 0; guard < 8; guard++) {
      const next = trunk.consumers.get(tensor);
      if (!next || next.length !== 1) break;
      const consumer = graph.node[next[0]];
      if (['Flatten', 'Reshape', 'Squeeze'].includes(consumer.opType)) {
        tensor = consumer.output[0];
        continue;
      }
      const weight = consumer.input[1];
      const weightShape = initializers.get(weight);
      if (!weightShape) break;
      if (consumer.opType === 'Gemm') {
        const classesFirst = intAttribute(consumer, 'transB', 0) === 1;
        return {
          features,
          featuresShape,
          op: 'Gemm',
          weight,
          weightShape,
          classesFirst,
          bias: consumer.input[2] || undefined,
          classes: classesFirst ? weightShape[0] : weightShape[1],
        };
      }
      if (consumer.opType === 'MatMul') {
        const add = trunk.consumers.get(consumer.output[0]);
        const addNode = add?.length === 1 ? graph.node[add[0]] : undefined;
        const bias = addNode?.opType === 'Add' ? addNode.input.find((i) => initializers.has(i)) : undefined;
        return { features, featuresShape, op: 'MatMul', weight, weightShape, classesFirst: false, bias, classes: weightShape[1] };
      }
      if (consumer.opType === 'Conv' && weightShape.length === 4 && weightShape[2] === 1 && weightShape[3] === 1) {
        return { features, featuresShape, op: 'Conv', weight, weightShape, classesFirst: true, bias: consumer.input[2] || undefined, classes: weightShape[0] };
      }
      break;
    }
    throw new StageDiscoveryError('no fully connected classifier (Gemm, MatMul or 1×1 Conv) follows the global pool');
  }
  throw new StageDiscoveryError('no global average pool after the last stage');
}

/** A residual block on the trunk: its output, the node producing it, and its main path's convolutions. */
interface ResidualBlock {
  tensor: string;
  node: number;
  convs: number[];
}

/** The stem's output cut, and its convolutions. */
interface Stem {
  cut: { tensor: string; node: number };
  convs: number[];
}

/** Stage tensors, shapes, blocks, layers, parameters and MACs; throws (UNSUPPORTED_MODEL) with the reason when the graph is not a ResNet. */
export function discoverStages(model: OnnxModel, info: ModelInfo): StageMap {
  const graph = model.graph;
  if (info.input.layout !== 'NCHW') throw new StageDiscoveryError('only NCHW models are supported for feature maps');
  const { shapes, macs } = analyseShapes(graph, info.input.name, [1, 3, info.input.height ?? 224, info.input.width ?? 224]);
  const trunk = findTrunk(graph, info.input.name);
  const blocks = residualBlocks(graph, trunk, info.input.name);
  const groups = groupByResolution(blocks, shapes);
  const stem = findStem(graph, trunk, blocks[0].node, shapes);
  const fields = receptiveFields(graph, stem, groups, shapes);

  const stages: StageInfo[] = [
    {
      name: 'stem',
      paperName: PAPER_NAMES.stem,
      tensor: stem.cut.tensor,
      shape: chw(shapes.get(stem.cut.tensor)) as [number, number, number],
      blocks: 0,
      layers: stem.convs.length,
      blockConvs: stem.convs.map((i) => convSpec(graph, i, shapes)),
      params: paramsInRange(graph, 0, stem.cut.node),
      macs: macsInRange(macs, 0, stem.cut.node),
      receptiveField: fields.stem,
    },
  ];
  let previousEnd = stem.cut.node;
  groups.forEach((group, g) => {
    const name = STAGE_NAMES[g + 1];
    const end = group[group.length - 1];
    stages.push({
      name,
      paperName: PAPER_NAMES[name],
      tensor: end.tensor,
      shape: chw(shapes.get(end.tensor)) as [number, number, number],
      blocks: group.length,
      layers: group.reduce((sum, b) => sum + b.convs.length, 0),
      blockConvs: group[0].convs.map((i) => convSpec(graph, i, shapes)),
      params: paramsInRange(graph, previousEnd + 1, end.node),
      macs: macsInRange(macs, previousEnd + 1, end.node),
      receptiveField: fields.groups[g],
    });
    previousEnd = end.node;
  });

  const head = findHead(graph, trunk, previousEnd, shapes);
  if (head.classes !== info.classes)
    throw new StageDiscoveryError(`the classifier found has ${head.classes} outputs but the model has ${info.classes} classes`);
  const headLayers = 1;
  return {
    stages,
    head,
    totalLayers: stages.reduce((sum, s) => sum + s.layers, 0) + headLayers,
    totalMacs: info.macs,
    totalParams: info.params,
  };
}

/** The residual blocks in graph order, each with the convolutions on its main path. */
function residualBlocks(graph: OnnxGraph, trunk: Trunk, inputName: string): ResidualBlock[] {
  // Main-path conv depth and the convs along it, reset at every cut.
  const cutSet = new Set(trunk.cuts.map((c) => c.tensor));
  const depth = new Map<string, { convs: number[] }>();
  graph.node.forEach((node, index) => {
    let best: number[] = [];
    for (const i of node.input) {
      const d = cutSet.has(i) ? [] : depth.get(i)?.convs;
      if (d && d.length > best.length) best = d;
    }
    const convs = node.opType === 'Conv' ? [...best, index] : best;
    for (const o of node.output) depth.set(o, { convs });
  });

  const blocks: ResidualBlock[] = [];
  for (const end of findBlockEnds(graph, trunk, inputName)) {
    // The main path is the deeper of the Add's two inputs.
    const add = graph.node[end.add];
    const convs = add.input.map((i) => depth.get(i)?.convs ?? []).reduce((a, b) => (b.length > a.length ? b : a));
    blocks.push({ tensor: end.tensor, node: end.node, convs });
  }
  if (blocks.length === 0) throw new StageDiscoveryError('no residual blocks (Add of two branches) found on the main path');
  return blocks;
}

/** Consecutive blocks at the same spatial size: the four stages conv2_x..conv5_x. */
function groupByResolution(blocks: ResidualBlock[], shapes: Map<string, Shape>): ResidualBlock[][] {
  const groups: ResidualBlock[][] = [];
  for (const block of blocks) {
    const shape = chw(shapes.get(block.tensor));
    if (!shape) throw new StageDiscoveryError(`cannot derive the shape of block output ${block.tensor}`);
    const last = groups[groups.length - 1];
    const lastShape = last ? chw(shapes.get(last[0].tensor)) : undefined;
    if (last && lastShape && lastShape[1] === shape[1] && lastShape[2] === shape[2]) last.push(block);
    else groups.push([block]);
  }
  if (groups.length !== 4) throw new StageDiscoveryError(`found ${groups.length} groups of residual blocks at distinct resolutions, a ResNet has 4`);
  return groups;
}

/** Stem: the pooling cut right before the first block (conv1 + maxpool), else the last cut before it. */
function findStem(graph: OnnxGraph, trunk: Trunk, firstBlockNode: number, shapes: Map<string, Shape>): Stem {
  const before = trunk.cuts.filter((c) => c.node >= 0 && c.node < firstBlockNode && chw(shapes.get(c.tensor)));
  const cut = [...before].reverse().find((c) => graph.node[c.node].opType === 'MaxPool') ?? before[before.length - 1];
  if (!cut) throw new StageDiscoveryError('no stem output found before the first residual block');
  const convs = graph.node.map((n, i) => (n.opType === 'Conv' && i <= cut.node ? i : -1)).filter((i) => i >= 0);
  return { cut, convs };
}

/** Receptive fields grow along the chain: the stem's convolutions and pools, then each block's main path. */
function receptiveFields(
  graph: OnnxGraph,
  stem: Stem,
  groups: ResidualBlock[][],
  shapes: Map<string, Shape>,
): { stem: ReceptiveFieldValue; groups: ReceptiveFieldValue[] } {
  const stemChain = graph.node.map((n, i) => ((n.opType === 'Conv' || n.opType === 'MaxPool') && i <= stem.cut.node ? i : -1)).filter((i) => i >= 0);
  let field = extendField(
    INPUT_FIELD,
    stemChain.map((i) => chainLayer(graph, i, shapes)),
  );
  const stemField = field;
  const groupFields = groups.map((group) => {
    for (const block of group)
      field = extendField(
        field,
        block.convs.map((i) => chainLayer(graph, i, shapes)),
      );
    return field;
  });
  return { stem: stemField, groups: groupFields };
}
