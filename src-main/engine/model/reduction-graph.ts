// In-graph stage reductions: the heatmaps, statistics, channel ranking and top channel maps the
// feature view needs are computed by onnxruntime inside the same session.run as the logits, and
// only these small arrays leave the session. Copying ResNet-50's 1.7 M stage values out of the
// session and reducing them in JavaScript cost about half an inference (measured: +11 ms fetch,
// +25 ms reduction against a 55 ms run); the graph does the same work in ~1.6 ms plus ~0.7 ms for
// reordering the stage tensors out of onnxruntime's blocked layout (profiled 2026-12-03).
//
// Placement. The classifier runs them on a feature session of its own (infer/classifier.ts) and
// classifies on the model as it is, so in that graph they sit in the main graph (`inline`): the
// feature session's runs all want them but the export's, which fetches the full stage tensors and
// pays for reductions it does not read (~2.5 ms of onnxruntime time against a ~50 ms run). Each If
// costs ~35–80 µs a run beyond its nodes (subgraph frame set-up), and one per stage, one for the
// maps and one nested per heatmap were 11: inline, onnxruntime's profiler (ResNet-50, 2-core
// AVX-512, 40 runs, 2026-12-04) summed 1.9–2.1 ms of added nodes against 2.8–3.0 ms behind the Ifs,
// and the feature view's overhead over classification fell ~2 points (alternating paired blocks:
// +9.7/+10.9% against +11.8/+12.7%). The only If left there switches on the max heatmaps, all five
// in one (~35 µs); it keeps every stage's reordered copy alive to the end of the run (6.8 MB more
// arena for ResNet-50), which profiled no slower than the same graph without it (added nodes 1.86
// against 1.88 ms). Inline nodes run where onnxruntime's ordering puts them, and appended last
// stage first (see withInlineReductions) each stage's reorder and reductions run right after the
// stage is computed, so its reordered copy is read while still in cache (profiled). (On 2026-12-02
// the main graph had measured 1–2% slower than one If holding every stage, with the nodes in
// another order; the paired runs above are of this order.)
//
// The block lens (blocks/lens.ts) runs the same model plainly for a lesion study's many runs, and
// onnxruntime runs every node of a graph whatever outputs are fetched (profiled: with only the
// logits fetched the reductions still ran), so there they stay behind FEATURES_SWITCH (`switched`),
// one If per stage and one for the maps. Measured against the same nodes in one If for all stages
// (interleaved, 3 processes each): +10.0 against +10.4% over classification. (The switch is a plain
// input, fed on every run: onnxruntime-node does not let a feed override an initializer, so it
// cannot have a default.)
//
// Op choices, measured with onnxruntime's profiler on ResNet-50 (2-core AVX-512): every pass over
// the stage tensors costs ~0.2–0.5 ms, so the graph makes as few as the feature view needs: the
// mean heatmap (a MatMul, 3× quicker than ReduceMean over the strided channel axis; the max heatmap
// only when switched on), channel means, the maximum, the non-zero fraction, top channels and class
// activation maps. The minimum and standard deviation would take two more passes; they come with
// the full tensors (export). Tried and not kept: the statistics on onnxruntime's blocked layout
// (GlobalAveragePool, GlobalMaxPool, a depthwise Conv for the non-zero count) were no quicker than
// the plain ops after the reorder the heatmap and the top maps need anyway, and a channels-last
// reorder made the top maps' Gather strided (0.8 ms).
import { EngineError } from '../core/errors.js';
import { ErrorCode, type HeatmapMode } from '../core/vocabulary.js';
import type { HeadInfo } from './stages.js';
import {
  AttributeType,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
  TensorDataType,
  toNumber,
} from './onnx-proto.js';

/** Graph input (bool scalar) that switches the reductions on. */
export const FEATURES_SWITCH = 'reslens.features';
/** Graph input (bool scalar): when true the graph also computes the max heatmaps (the mean ones always). */
export const HEATMAP_MAX_SWITCH = 'reslens.heatmap_max';

/**
 * Channel maps ranked inside the graph per stage: the 12 the app shows (the CLI's default is 8;
 * more go through the full tensors). Every output is a fresh buffer that onnxruntime-node copies
 * into a new ArrayBuffer each run, and above glibc's mmap threshold (128 KB) into freshly faulted
 * pages: 32 maps of 56×56 were 401 KB per stage, and their faults cost ~1 ms a run in this VM.
 */
export const GRAPH_TOP_CHANNELS = 12;

/** Classes with a class activation map computed inside the graph (the most the feature view asks for). */
export const GRAPH_TOP_CLASSES = 10;

/** Bumped whenever the added nodes change, so cached edited models are rebuilt. */
export const REDUCTIONS_VERSION = 13;

/** Outputs of the in-graph class activation maps: the top classes, best first, and their raw maps. */
export const CAM_OUTPUTS = { classes: 'reslens.cam.classes', maps: 'reslens.cam.maps' } as const;

/** What the class activation maps are computed from: the model's scores and its classifier head. */
export interface CamSource {
  /** The model's output (logits or probabilities: only their order is used). */
  scores: string;
  head: HeadInfo;
}

/** Scalar float graph inputs of a gated graph (blocks/gated-graph.ts) start with this; 1 = intact. */
export const GATE_INPUT_PREFIX = 'reslens.gate.';
/** Gradient graph (explain/backward-graph.ts) input, int64 [K]: the classes whose scores are differentiated (one backward row each). */
export const GRADIENT_CLASSES = 'reslens.grad.classes';
/** Gradient graph input, bool scalar: guided backprop when true. */
export const GUIDED_SWITCH = 'reslens.grad.guided';

/** The switch inputs: every run of an edited model must feed those it has. */
export const SWITCH_INPUTS: readonly string[] = [FEATURES_SWITCH, HEATMAP_MAX_SWITCH];

export interface ReducibleStage {
  name: string;
  tensor: string;
  shape: readonly [number, number, number];
}

/**
 * Values with |x| ≥ ε count as non-zero; smaller ones count in proportion (x/ε): each value becomes
 * HardSigmoid(x) = clamp(x/ε, 0, 1), one elementwise pass that onnxruntime spreads over its threads
 * (0.36 ms for ResNet-50's stages against 0.55 ms for Clip, which runs on one). ReLU zeros are exact
 * zeros, and activations below 1e-30 do not occur in practice. ε is a power of two (2^-100 ≈ 7.9e-31),
 * so x/ε is exact, and far above float32's smallest normal (1.2e-38).
 */
export const NON_ZERO_EPSILON = 2 ** -100;

/** Names of the outputs computed for one stage, with their per-image shapes. */
export interface StageReductionOutputs {
  /** H×W values: the mean over channels (always computed: a MatMul per stage, ~0.33 ms a ResNet-50 run in all). */
  heatmap: string;
  /** H×W values: the maximum over channels when HEATMAP_MAX_SWITCH is on; empty (zeros before opset 11) when off. */
  heatmapMax: string;
  /** [C]: every channel's mean activation. */
  channelMeans: string;
  /**
   * [C]: every channel's maximum, and its fraction of values that are not zero (see
   * NON_ZERO_EPSILON). The stage's maximum and non-zero fraction follow from these in JavaScript
   * (C values); reducing them in the graph took two more nodes per stage, ~25 µs. (The minimum and
   * spread need two more passes over the stage: the full path has them.)
   */
  channelMax: string;
  channelNonZero: string;
  /** [K] channel indices, best first, and their maps [K,H·W] (per run: its first image's, so one image a run). */
  topChannels: string;
  topMaps: string;
}

export function reductionOutputs(stageName: string): StageReductionOutputs {
  const name = (what: string): string => `reslens.${stageName}.${what}`;
  return {
    heatmap: name('heatmap'),
    heatmapMax: name('heatmap_max'),
    channelMeans: name('channel_means'),
    channelMax: name('channel_max'),
    channelNonZero: name('channel_non_zero'),
    topChannels: name('top_channels'),
    topMaps: name('top_maps'),
  };
}

/** Which of a stage's outputs holds its heatmap in `mode`. */
export function heatmapOutput(outputs: StageReductionOutputs, mode: HeatmapMode): string {
  return mode === 'max' ? outputs.heatmapMax : outputs.heatmap;
}

/** The outputs a summary run fetches, in a stable order: every stage's, with the heatmap of `heatmapMode`. */
export function summaryOutputs(stageNames: readonly string[], heatmapMode: HeatmapMode): string[] {
  return stageNames.flatMap((s) => {
    const outputs = reductionOutputs(s);
    const { heatmap: _mean, heatmapMax: _max, ...rest } = outputs;
    return [heatmapOutput(outputs, heatmapMode), ...Object.values(rest)];
  });
}

const ints = (name: string, values: number[]): OnnxAttribute => ({ name, type: AttributeType.INTS, ints: values });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: AttributeType.INT, i: value });
export const valueInfo = (name: string, elemType: number): OnnxValueInfo => ({ name, type: { tensorType: { elemType } } });
export const boolScalarInput = (name: string): OnnxValueInfo => ({ name, type: { tensorType: { elemType: TensorDataType.BOOL, shape: { dim: [] } } } });

/** The model's default-domain opset: it decides how each added node spells its arguments. */
export function defaultOpset(model: OnnxModel): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 1;
}

/**
 * Builds nodes that respect the model's opset (attributes became inputs over the versions).
 * Constants are Constant nodes, not initializers: models of IR version 3 (opset 7 exports) must
 * list every initializer as a graph input, which a subgraph cannot do.
 */
export class NodeWriter {
  readonly nodes: OnnxNode[] = [];
  private readonly constants = new Set<string>();

  /** `scope` prefixes constant names: names must be unique across a graph and its subgraphs. */
  constructor(
    private readonly opset: number,
    private readonly scope: string,
  ) {}

  constant(tensor: OnnxTensor): string {
    if (!this.constants.has(tensor.name)) {
      this.constants.add(tensor.name);
      this.nodes.push({ opType: 'Constant', input: [], output: [tensor.name], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: tensor }] });
    }
    return tensor.name;
  }

  private int64s(name: string, values: number[]): string {
    return this.constant({ name: `${this.scope}.${name}`, dims: [values.length], dataType: TensorDataType.INT64, int64Data: values });
  }

  /** ReduceMax/ReduceMean take their axes as an input from opset 18, an attribute before. */
  reduce(op: 'ReduceMax' | 'ReduceMean', input: string, output: string, axes: number[], keepdims: 0 | 1): void {
    const asInput = this.opset >= 18;
    this.nodes.push(
      asInput
        ? { opType: op, input: [input, this.int64s(`axes.${axes.join('')}`, axes)], output: [output], attribute: [int('keepdims', keepdims)] }
        : { opType: op, input: [input], output: [output], attribute: [ints('axes', axes), int('keepdims', keepdims)] },
    );
  }

  /** TopK takes k as an input from opset 10, an attribute before. */
  topK(input: string, k: number, values: string, indices: string): void {
    this.nodes.push(
      this.opset >= 10
        ? { opType: 'TopK', input: [input, this.int64s(`k.${k}`, [k])], output: [values, indices], attribute: [int('axis', 1)] }
        : { opType: 'TopK', input: [input], output: [values, indices], attribute: [int('axis', 1), int('k', k)] },
    );
  }

  reshape(input: string, shape: number[], output: string): void {
    this.nodes.push({ opType: 'Reshape', input: [input, this.int64s(`shape.${shape.join('_')}`, shape)], output: [output] });
  }

  node(opType: string, input: string[], output: string[], attribute: OnnxAttribute[] = []): void {
    this.nodes.push({ opType, input, output, attribute });
  }

  graph(name: string, outputs: string[], types: number[] = outputs.map(() => TensorDataType.FLOAT)): OnnxGraph {
    return { name, node: this.nodes, initializer: [], input: [], output: outputs.map((o, i) => valueInfo(o, types[i])) };
  }
}

/** A subgraph output and its shape for one image (both branches of an If must agree before opset 11). */
export interface BranchOutput {
  name: string;
  type: number;
  shape: number[];
}

/**
 * The switched-off branch: a constant per output. From opset 11 they are empty; before, If's
 * branches must produce identical shapes, so they are zeros of the one-image shape (~1 MB for
 * ResNet-50, only read when switched off, and never shown: callers ask for reductions by switching on).
 */
export function offBranch(name: string, outputs: BranchOutput[], opset: number): OnnxGraph {
  const constant = (o: BranchOutput): OnnxTensor => {
    if (opset >= 11) return { name: `${o.name}.off`, dims: [0, ...o.shape.slice(1)], dataType: o.type };
    const count = o.shape.reduce((a, b) => a * b, 1);
    const bytesPerValue = o.type === TensorDataType.INT64 ? 8 : 4;
    return { name: `${o.name}.off`, dims: o.shape, dataType: o.type, rawData: new Uint8Array(count * bytesPerValue) };
  };
  return {
    name,
    node: outputs.map((o) => ({
      opType: 'Constant',
      input: [],
      output: [`${o.name}.off`],
      attribute: [{ name: 'value', type: AttributeType.TENSOR, t: constant(o) }],
    })),
    initializer: [],
    input: [],
    output: outputs.map((o) => valueInfo(`${o.name}.off`, o.type)),
  };
}

export function ifNode(name: string, condition: string, outputs: string[], thenBranch: OnnxGraph, elseBranch: OnnxGraph): OnnxNode {
  return {
    opType: 'If',
    name,
    input: [condition],
    output: outputs,
    attribute: [
      { name: 'then_branch', type: AttributeType.GRAPH, g: thenBranch },
      { name: 'else_branch', type: AttributeType.GRAPH, g: elseBranch },
    ],
  };
}

/**
 * Where the reductions sit. `switched`: one If per stage on FEATURES_SWITCH, for a graph whose
 * plain runs must not pay for them (the block lens). `inline`: in the main graph, for a session that
 * exists to compute them (the classifier's feature session; see the header for what that saves).
 */
export type ReductionPlacement = 'switched' | 'inline';

/**
 * Returns `model` with the reductions of `stages` added (the original is not modified). Top-channel
 * maps are gathered with the first image's ranking, so a run that fetches them must hold one image
 * (the engine runs feature requests one image at a time).
 */
export function addStageReductions(
  model: OnnxModel,
  stages: readonly ReducibleStage[],
  cam?: CamSource,
  placement: ReductionPlacement = 'switched',
): OnnxModel {
  const opset = defaultOpset(model);
  if (opset < 7) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `feature maps unavailable: opset ${opset} is older than 7`);

  const producers = new Map(model.graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  // A Relu's output, or a MaxPool of one (the stem), is never negative: its non-zero count needs no Abs.
  const nonNegative = (tensor: string): boolean => {
    const node = producers.get(tensor);
    return node?.opType === 'Relu' || (node?.opType === 'MaxPool' && producers.get(node.input[0])?.opType === 'Relu');
  };
  const maxHeatmaps: MaxHeatmap[] = [];
  const branches: FeatureBranch[] = stages.map((stage) => {
    const writer = new NodeWriter(opset, `reslens.reductions.${stage.name}`);
    const rows = stageRows(writer, stage);
    const outputs = [meanHeatmap(writer, stage, rows)];
    if (placement === 'switched') {
      // Inside the stage's branch, where its rows exist: a nested If on the heatmap switch.
      const max = maxHeatmapIf(stage.name, [{ stage, rows }], opset);
      writer.nodes.push(max.node);
      outputs.push(...max.outputs);
    } else {
      maxHeatmaps.push({ stage, rows });
    }
    return { name: `reductions.${stage.name}`, writer, outputs: [...outputs, ...addStageStatistics(writer, stage, rows, nonNegative(stage.tensor))] };
  });
  if (cam) {
    const writer = new NodeWriter(opset, 'reslens.cam');
    branches.push({ name: 'cam', writer, outputs: addClassActivationMaps(writer, cam) });
  }
  if (placement === 'switched') return withFeatureBranches(model, branches, opset, [boolScalarInput(FEATURES_SWITCH), boolScalarInput(HEATMAP_MAX_SWITCH)]);
  return withInlineReductions(model, branches, maxHeatmapIf('all', maxHeatmaps, opset), [boolScalarInput(HEATMAP_MAX_SWITCH)]);
}

/**
 * `model` with the branches' nodes in its main graph, last branch first (each then runs right
 * after its stage, as in withFeatureBranches), and the one If of the max heatmaps last.
 */
function withInlineReductions(
  model: OnnxModel,
  branches: readonly FeatureBranch[],
  maxHeatmaps: { node: OnnxNode; outputs: BranchOutput[] },
  newInputs: OnnxModel['graph']['input'],
): OnnxModel {
  const nodes = [...[...branches].reverse().flatMap((b) => b.writer.nodes), maxHeatmaps.node];
  return withAppended(model, nodes, newInputs, [...branches.flatMap((b) => b.outputs), ...maxHeatmaps.outputs]);
}

/** `model` with `nodes` after its own, and `inputs` and `outputs` after its own. */
function withAppended(model: OnnxModel, nodes: OnnxNode[], inputs: OnnxModel['graph']['input'], outputs: BranchOutput[]): OnnxModel {
  return {
    ...model,
    graph: {
      ...model.graph,
      node: [...model.graph.node, ...nodes],
      input: [...model.graph.input, ...inputs],
      output: [...model.graph.output, ...outputs.map((o) => valueInfo(o.name, o.type))],
    },
  };
}

/** Nodes to run behind the features switch (one If), and what they output. */
export interface FeatureBranch {
  name: string;
  writer: NodeWriter;
  outputs: BranchOutput[];
}

/**
 * `model` with `writer`'s nodes behind the features switch (an If named `reslens.<name>`; its off
 * branch gives empty outputs) and their results added to the graph's outputs. The one way the
 * feature graph and the block lens attach what a plain inference must not pay for.
 */
export function withFeatureBranch(
  model: OnnxModel,
  writer: NodeWriter,
  name: string,
  outputs: BranchOutput[],
  opset: number,
  newInputs: OnnxModel['graph']['input'] = [],
): OnnxModel {
  return withFeatureBranches(model, [{ name, writer, outputs }], opset, newInputs);
}

/** Several switched branches, one If each (see withFeatureBranch). */
export function withFeatureBranches(
  model: OnnxModel,
  branches: readonly FeatureBranch[],
  opset: number,
  newInputs: OnnxModel['graph']['input'] = [],
): OnnxModel {
  const switchNodes = branches.map(({ name, writer, outputs }) => {
    const names = outputs.map((o) => o.name);
    const graphName = name.replace(/\W/g, '_');
    return ifNode(
      `reslens.${name}`,
      FEATURES_SWITCH,
      names,
      writer.graph(
        `reslens_${graphName}`,
        names,
        outputs.map((o) => o.type),
      ),
      offBranch(`reslens_no_${graphName}`, outputs, opset),
    );
  });
  // Last branch first: onnxruntime then runs each branch as soon as its inputs exist (see the header).
  return withAppended(
    model,
    switchNodes.reverse(),
    newInputs,
    branches.flatMap((b) => b.outputs),
  );
}

/**
 * Every reduction reads a stage through one Reshape to [N, C, H·W] (free: a view), so onnxruntime
 * reorders the stage out of its blocked layout once. Read directly by the heatmap If and the
 * statistics, a stage in the main graph was reordered twice (profiled: 11 ReorderOutputs, 1.1 ms,
 * against 6 and 0.6 ms).
 */
function stageRows(writer: NodeWriter, stage: ReducibleStage): string {
  const [channels, height, width] = stage.shape;
  const rows = `reslens.${stage.name}.rows`;
  writer.reshape(stage.tensor, [0, channels, height * width], rows);
  return rows;
}

/**
 * A stage's mean heatmap, [N, 1, H·W], as a matrix product with a 1/C row: a GEMM on onnxruntime's
 * fastest path, measured ~3× quicker than ReduceMean over the (strided) channel axis.
 */
function meanHeatmap(writer: NodeWriter, stage: ReducibleStage, rows: string): BranchOutput {
  const FLOAT = TensorDataType.FLOAT;
  const plane = reductionOutputs(stage.name).heatmap;
  const channels = stage.shape[0];
  const weights = `${plane}.mean_weights`;
  writer.constant({ name: weights, dims: [1, channels], dataType: FLOAT, floatData: new Array<number>(channels).fill(1 / channels) });
  writer.node('MatMul', [weights, rows], [plane]);
  return { name: plane, type: FLOAT, shape: [1, 1, stage.shape[1] * stage.shape[2]] };
}

/** A stage's [N, C, H·W] view, for its max heatmap. */
interface MaxHeatmap {
  stage: ReducibleStage;
  rows: string;
}

/**
 * The max heatmaps of `stages` ([N, 1, H·W] each) behind HEATMAP_MAX_SWITCH: the maximum over the
 * strided channel axis costs ~1.6–2 ms a ResNet-50 run (profiled), too much to pay for a view the user has not
 * asked for. Switched off they are empty (opset ≥ 11) or zeros.
 */
function maxHeatmapIf(name: string, stages: readonly MaxHeatmap[], opset: number): { node: OnnxNode; outputs: BranchOutput[] } {
  const writer = new NodeWriter(opset, `reslens.max_plane.${name}`);
  const outputs = stages.map(({ stage, rows }): BranchOutput => {
    const plane = reductionOutputs(stage.name).heatmapMax;
    writer.reduce('ReduceMax', rows, `${plane}.on`, [1], 1);
    return { name: plane, type: TensorDataType.FLOAT, shape: [1, 1, stage.shape[1] * stage.shape[2]] };
  });
  const names = outputs.map((o) => o.name);
  const node = ifNode(
    `reslens.heatmap_max.${name}`,
    HEATMAP_MAX_SWITCH,
    names,
    writer.graph(
      `reslens_max_plane_${name}`,
      names.map((n) => `${n}.on`),
    ),
    offBranch(`reslens_no_max_plane_${name}`, outputs, opset),
  );
  return { node, outputs };
}

/**
 * One stage's per-channel statistics (means, maxima, non-zero fractions) and its top channels'
 * maps, from its [N, C, H·W] view; `nonNegative` when the stage tensor cannot be negative (a Relu's
 * output, or a MaxPool of one). The statistics reduce each channel's row: onnxruntime spreads row
 * reductions over its threads but reduces a whole tensor to one value on one (on [1,256,3136]: 54
 * against 66 µs for the maximum, 129 against 218 µs for the non-zero fraction); the C results are
 * reduced to the stage's figures in JavaScript (readSummary). Top channels are gathered with TopK's
 * [N,K] indices as they come (the maps are [N,N,K,H·W]; one image per run).
 */
function addStageStatistics(reductions: NodeWriter, stage: ReducibleStage, rows: string, nonNegative: boolean): BranchOutput[] {
  const FLOAT = TensorDataType.FLOAT;
  const out = reductionOutputs(stage.name);
  const [channels, height, width] = stage.shape;
  const k = Math.min(GRAPH_TOP_CHANNELS, channels);
  const step = (what: string): string => `reslens.${stage.name}.${what}`;
  reductions.reduce('ReduceMean', rows, out.channelMeans, [2], 0);
  reductions.reduce('ReduceMax', rows, out.channelMax, [2], 0);
  // Non-zero fraction: mean(clamp(|x|/ε, 0, 1)), one elementwise pass (two Casts to bool and back
  // cost twice as much). |x| only where a stage can be negative (pre-activation v2 outputs).
  const magnitude = nonNegative ? rows : step('magnitude');
  if (!nonNegative) reductions.node('Abs', [rows], [magnitude]);
  reductions.node(
    'HardSigmoid',
    [magnitude],
    [step('non_zero')],
    [
      { name: 'alpha', type: AttributeType.FLOAT, f: 1 / NON_ZERO_EPSILON },
      { name: 'beta', type: AttributeType.FLOAT, f: 0 },
    ],
  );
  reductions.reduce('ReduceMean', step('non_zero'), out.channelNonZero, [2], 0);
  reductions.topK(out.channelMeans, k, step('top_values'), out.topChannels);
  reductions.node('Gather', [rows, out.topChannels], [out.topMaps], [int('axis', 1)]);
  return [
    ...[out.channelMeans, out.channelMax, out.channelNonZero].map((name) => ({ name, type: FLOAT, shape: [1, channels] })),
    { name: out.topChannels, type: TensorDataType.INT64, shape: [1, k] },
    { name: out.topMaps, type: FLOAT, shape: [1, 1, k, height * width] },
  ];
}

/**
 * Class activation maps (Zhou et al. 2016) for the top classes: CAM_c = Σ_k w_ck · F_k, as one
 * MatMul of the classifier rows of the best classes [K,F] with the head's features [F,h·w].
 * (In JavaScript the same 5 maps took ~2 ms of a 60 ms run.)
 */
function addClassActivationMaps(writer: NodeWriter, { scores, head }: CamSource): BranchOutput[] {
  const k = Math.min(GRAPH_TOP_CLASSES, head.classes);
  const [features, height, width] = head.featuresShape;
  writer.topK(scores, k, 'reslens.cam.top_scores', 'reslens.cam.top_indices');
  writer.reshape('reslens.cam.top_indices', [-1], CAM_OUTPUTS.classes);
  // The classifier rows of those classes as [K, F], whatever layout the head stores.
  if (head.op === 'Conv') {
    writer.node('Gather', [head.weight, CAM_OUTPUTS.classes], ['reslens.cam.rows_4d'], [int('axis', 0)]);
    writer.reshape('reslens.cam.rows_4d', [k, features], 'reslens.cam.rows');
  } else if (head.classesFirst) {
    writer.node('Gather', [head.weight, CAM_OUTPUTS.classes], ['reslens.cam.rows'], [int('axis', 0)]);
  } else {
    writer.node('Gather', [head.weight, CAM_OUTPUTS.classes], ['reslens.cam.columns'], [int('axis', 1)]);
    writer.node('Transpose', ['reslens.cam.columns'], ['reslens.cam.rows'], [ints('perm', [1, 0])]);
  }
  writer.reshape(head.features, [0, features, height * width], 'reslens.cam.features');
  writer.node('MatMul', ['reslens.cam.rows', 'reslens.cam.features'], [CAM_OUTPUTS.maps]);
  return [
    { name: CAM_OUTPUTS.classes, type: TensorDataType.INT64, shape: [k] },
    { name: CAM_OUTPUTS.maps, type: TensorDataType.FLOAT, shape: [1, k, height * width] },
  ];
}
