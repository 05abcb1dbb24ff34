// Graph surgery for static int8 quantisation in the QDQ format: the fp32 graph with
// QuantizeLinear → DequantizeLinear pairs on its activations and DequantizeLinear on int8 weights,
// arranged the way onnxruntime's CPU provider fuses them into int8 kernels:
//   - DQ(x) → Conv(DQ(w int8, per channel), DQ(b int32)) → Q   becomes QLinearConv
//   - DQ(a), DQ(b) → Add → Q                                   becomes QLinearAdd
//   - DQ → MaxPool → Q                                         runs MaxPool on uint8
// A Relu right after a Conv or a residual Add is removed and its output range (min 0, so the
// zero point sits at 0) does the clamping: exact, and what lets Conv+Relu and Add+Relu fuse.
// BatchNormalization directly after a Conv is folded into it first (the "explicit" exports);
// other BatchNormalizations (pre-activation v2 block inputs) stay float between DQ and Q.
// The structure is decided here; the numbers (activation ranges) come from calibrate.ts.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ActivationType } from './names.js';
import { type OnnxModel, type OnnxNode, type OnnxTensor, TensorDataType, attributeOf, intAttribute, tensorFloats, toNumber } from '../model/onnx-proto.js';

/** An activation range from calibration; the quantiser widens it to include 0. */
export interface Range {
  min: number;
  max: number;
}

export type { ActivationType } from './names.js';

/** Ops whose activation inputs and outputs are quantised. */
const QUANTISED_INPUT_OPS = new Set(['Conv', 'Gemm', 'Add']);
const QUANTISED_OUTPUT_OPS = new Set(['Conv', 'Add']);

function floatTensor(name: string, values: Float32Array | number[], dims: number[]): OnnxTensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return { name, dims, dataType: TensorDataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function bytesTensor(name: string, data: Int8Array | Uint8Array | Int32Array, dataType: number, dims: number[]): OnnxTensor {
  return { name, dims, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Folds each BatchNormalization that directly follows a Conv (its only consumer) into that Conv (edits `model`'s nodes). */
export function foldBatchNorms(model: OnnxModel): OnnxModel {
  const graph = model.graph;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = consumerCounts(graph.node);
  const producers = new Map<string, OnnxNode>();
  for (const node of graph.node) for (const out of node.output) producers.set(out, node);
  const outputs = new Set(graph.output.map((o) => o.name));
  const removed = new Set<OnnxNode>();
  const replaced = new Map<string, OnnxTensor>();
  const added: OnnxTensor[] = [];
  for (const bn of graph.node) {
    if (bn.opType !== 'BatchNormalization' || bn.output.length !== 1) continue;
    const conv = producers.get(bn.input[0]);
    if (!conv || conv.opType !== 'Conv' || consumers.get(bn.input[0]) !== 1 || outputs.has(bn.input[0])) continue;
    const params = bn.input.slice(1, 5).map((n) => initializers.get(n));
    const weight = initializers.get(conv.input[1]);
    if (params.some((p) => !p) || !weight || (conv.input[2] && !initializers.get(conv.input[2]))) continue;
    const [scale, bias, mean, variance] = params.map((p) => tensorFloats(p as OnnxTensor));
    const epsilon = attributeOf(bn, 'epsilon')?.f ?? 1e-5;
    const w = tensorFloats(weight);
    const outChannels = toNumber(weight.dims[0]);
    const perChannel = w.length / outChannels;
    const oldBias = conv.input[2] ? tensorFloats(initializers.get(conv.input[2]) as OnnxTensor) : new Float32Array(outChannels);
    const newBias = new Float32Array(outChannels);
    for (let c = 0; c < outChannels; c++) {
      const factor = scale[c] / Math.sqrt(variance[c] + epsilon);
      for (let i = 0; i < perChannel; i++) w[c * perChannel + i] *= factor;
      newBias[c] = (oldBias[c] - mean[c]) * factor + bias[c];
    }
    const weightName = `${conv.input[1]}_bnfolded`;
    const biasName = `${conv.input[1]}_bnfolded_bias`;
    replaced.set(weightName, floatTensor(weightName, w, weight.dims.map(toNumber)));
    added.push(floatTensor(biasName, newBias, [outChannels]));
    conv.input = [conv.input[0], weightName, biasName];
    conv.output = [bn.output[0]];
    removed.add(bn);
  }
  if (removed.size === 0) return model;
  const node = graph.node.filter((n) => !removed.has(n));
  const stillUsed = new Set(node.flatMap((n) => n.input));
  const initializer = [...graph.initializer.filter((t) => stillUsed.has(t.name)), ...replaced.values(), ...added];
  return { ...model, graph: { ...graph, node, initializer } };
}

function consumerCounts(nodes: OnnxNode[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of nodes) for (const input of node.input) if (input) counts.set(input, (counts.get(input) ?? 0) + 1);
  return counts;
}

/**
 * Removes each Relu whose input comes from a Conv or Add and feeds only it: the Q after it clamps.
 * The tensor keeps the Relu output's name, so calibrate the graph before this step (where that
 * tensor is the Relu's output, min 0), then quantise the graph after it.
 */
export function absorbRelus(model: OnnxModel): OnnxModel {
  const graph = model.graph;
  const consumers = consumerCounts(graph.node);
  const producers = new Map<string, OnnxNode>();
  for (const node of graph.node) for (const out of node.output) producers.set(out, node);
  const outputs = new Set(graph.output.map((o) => o.name));
  const removed = new Set<OnnxNode>();
  const renamed = new Map<OnnxNode, string>(); // producer → the Relu output it now produces
  for (const relu of graph.node) {
    if (relu.opType !== 'Relu') continue;
    const producer = producers.get(relu.input[0]);
    if (!producer || !QUANTISED_OUTPUT_OPS.has(producer.opType) || consumers.get(relu.input[0]) !== 1 || outputs.has(relu.input[0])) continue;
    renamed.set(producer, relu.output[0]);
    removed.add(relu);
  }
  if (removed.size === 0) return model;
  const node = graph.node.filter((n) => !removed.has(n)).map((n) => (renamed.has(n) ? { ...n, output: [renamed.get(n) as string] } : n));
  return { ...model, graph: { ...graph, node } };
}

/**
 * The activation tensors that get a Q → DQ pair: activation inputs of Conv, Gemm and Add, and the
 * outputs of Conv and Add (after absorbRelus, the Relu outputs). Calibration measures these.
 */
export function quantisedActivations(model: OnnxModel): string[] {
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const names = new Set<string>();
  for (const node of model.graph.node) {
    if (QUANTISED_INPUT_OPS.has(node.opType)) {
      const activationInputs = node.opType === 'Add' ? node.input : node.input.slice(0, 1);
      for (const input of activationInputs) if (input && !initializers.has(input)) names.add(input);
    }
    if (QUANTISED_OUTPUT_OPS.has(node.opType)) names.add(node.output[0]);
  }
  return [...names];
}

/** Scale and zero point for an activation range (widened to include 0, as the ONNX spec requires). */
export function activationParams(range: Range, type: ActivationType): { scale: number; zeroPoint: number } {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  const [qmin, qmax] = type === 'uint8' ? [0, 255] : [-128, 127];
  const scale = max - min > 0 ? (max - min) / (qmax - qmin) : 1;
  const zeroPoint = Math.max(qmin, Math.min(qmax, Math.round(qmin - min / scale)));
  return { scale, zeroPoint };
}

/** Per output channel symmetric int8: scale = max|w| / 127, zero point 0. */
export function quantiseWeightPerChannel(weights: Float32Array, channels: number): { values: Int8Array; scales: Float32Array } {
  const per = weights.length / channels;
  const values = new Int8Array(weights.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = 0; i < per; i++) max = Math.max(max, Math.abs(weights[c * per + i]));
    const scale = max > 0 ? max / 127 : 1;
    scales[c] = scale;
    for (let i = 0; i < per; i++) values[c * per + i] = Math.max(-127, Math.min(127, Math.round(weights[c * per + i] / scale)));
  }
  return { values, scales };
}

export interface QdqOptions {
  ranges: Map<string, Range>;
  activations: ActivationType;
}

/**
 * The QDQ model: `model` must already have had foldBatchNorms and absorbRelus applied, and `ranges`
 * must cover quantisedActivations(model).
 */
export function insertQdq(model: OnnxModel, options: QdqOptions): OnnxModel {
  const graph = model.graph;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const added: Additions = { initializers: [], weightNodes: [], quantisedWeights: new Set() };
  const activations = activationPairs(quantisedActivations(model), options, added);
  const rewired: OnnxNode[] = graph.node.map((node) => {
    const input = node.input.map((i) => activations.dequantised.get(i) ?? i);
    const weight = node.opType === 'Conv' || node.opType === 'Gemm' ? initializers.get(node.input[1]) : undefined;
    const transB = node.opType === 'Gemm' ? intAttribute(node, 'transB', 0) : 1;
    // Per output channel: axis 0 of a Conv weight [M, C/g, kH, kW] and of a Gemm weight with transB.
    if (weight && weight.dataType === TensorDataType.FLOAT && transB === 1) {
      const weightScales = quantiseWeight(node.input[1], weight, added);
      input[1] = `${node.input[1]}_dequantized`;
      const biasName = node.input[2];
      const bias = biasName ? initializers.get(biasName) : undefined;
      const inputScale = activations.scales.get(node.input[0]);
      if (bias && inputScale !== undefined) input[2] = quantiseBias(node, bias, inputScale, weightScales, added);
    }
    return { ...node, input };
  });
  const nodes = topologicalOrder(added.weightNodes, graph.input, rewired, activations.pairs);
  const stillUsed = new Set(nodes.flatMap((n) => n.input));
  const initializer = [...graph.initializer.filter((t) => stillUsed.has(t.name)), ...added.initializers.filter((t) => stillUsed.has(t.name))];
  // DequantizeLinear with a per-axis scale needs opset 13.
  const opsetImport = model.opsetImport.map((o) => (!o.domain && toNumber(o.version) < 13 ? { ...o, version: 13 } : o));
  return { ...model, opsetImport, graph: { ...graph, node: nodes, initializer } };
}

/** What the rewrite adds: initializers, and the DequantizeLinear nodes of weights and biases (placed first). */
interface Additions {
  initializers: OnnxTensor[];
  weightNodes: OnnxNode[];
  /** Weights already quantised (a weight two nodes share is stored once). */
  quantisedWeights: Set<string>;
}

interface ActivationPairs {
  /** Activation → its DQ output. */
  dequantised: Map<string, string>;
  scales: Map<string, number>;
  /** Activation → [Q, DQ]. */
  pairs: Map<string, OnnxNode[]>;
}

/** A Q → DQ pair, with its scale and zero point, for each activation. */
function activationPairs(targets: string[], options: QdqOptions, added: Additions): ActivationPairs {
  const activationType = options.activations === 'uint8' ? TensorDataType.UINT8 : TensorDataType.INT8;
  const result: ActivationPairs = { dequantised: new Map(), scales: new Map(), pairs: new Map() };
  for (const name of targets) {
    const range = options.ranges.get(name);
    if (!range) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `no calibration range for ${name}`);
    const { scale, zeroPoint } = activationParams(range, options.activations);
    result.scales.set(name, scale);
    const zp = options.activations === 'uint8' ? Uint8Array.of(zeroPoint) : Int8Array.of(zeroPoint);
    added.initializers.push(floatTensor(`${name}_scale`, [scale], []), bytesTensor(`${name}_zero_point`, zp, activationType, []));
    const q = `${name}_quantized`;
    const dq = `${name}_dequantized`;
    result.dequantised.set(name, dq);
    result.pairs.set(name, [
      { opType: 'QuantizeLinear', name: `${name}_QuantizeLinear`, input: [name, `${name}_scale`, `${name}_zero_point`], output: [q] },
      { opType: 'DequantizeLinear', name: `${name}_DequantizeLinear`, input: [q, `${name}_scale`, `${name}_zero_point`], output: [dq] },
    ]);
  }
  return result;
}

/** A DequantizeLinear of `base` (its values, `<base><scale>` and `<base><zero>`) per output channel, to `<base>_dequantized`. */
function perChannelDequantize(base: string, values: string, scale: string, zero: string): OnnxNode {
  return {
    opType: 'DequantizeLinear',
    name: `${base}_DequantizeLinear`,
    input: [values, scale, zero],
    output: [`${base}_dequantized`],
    attribute: [{ name: 'axis', type: 2, i: 0 }],
  };
}

/** Stores the weight `base` as per-channel int8 with its DequantizeLinear (once per weight); returns the per-channel scales. */
function quantiseWeight(base: string, weight: OnnxTensor, added: Additions): Float32Array {
  const channels = toNumber(weight.dims[0]);
  const { values, scales } = quantiseWeightPerChannel(tensorFloats(weight), channels);
  if (!added.quantisedWeights.has(base)) {
    added.quantisedWeights.add(base);
    added.initializers.push(
      bytesTensor(`${base}_int8`, values, TensorDataType.INT8, weight.dims.map(toNumber)),
      floatTensor(`${base}_wscale`, scales, [channels]),
      bytesTensor(`${base}_wzero`, new Int8Array(channels), TensorDataType.INT8, [channels]),
    );
    added.weightNodes.push(perChannelDequantize(base, `${base}_int8`, `${base}_wscale`, `${base}_wzero`));
  }
  return scales;
}

/** Bias as int32 with scale = input scale × weight scale, as the int8 kernels add it; returns its DQ output. */
function quantiseBias(node: OnnxNode, bias: OnnxTensor, inputScale: number, weightScales: Float32Array, added: Additions): string {
  const b = tensorFloats(bias);
  const q = new Int32Array(b.length);
  const biasScales = new Float32Array(b.length);
  for (let c = 0; c < b.length; c++) {
    biasScales[c] = inputScale * weightScales[c];
    q[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b[c] / biasScales[c])));
  }
  const qb = `${node.input[2]}_${node.name ?? node.output[0]}_int32`;
  added.initializers.push(
    bytesTensor(qb, q, TensorDataType.INT32, [b.length]),
    floatTensor(`${qb}_scale`, biasScales, [b.length]),
    bytesTensor(`${qb}_zero`, new Int32Array(b.length), TensorDataType.INT32, [b.length]),
  );
  added.weightNodes.push(perChannelDequantize(qb, qb, `${qb}_scale`, `${qb}_zero`));
  return `${qb}_dequantized`;
}

/** Topological order: weight DQs first, graph-input pairs next, each pair right after its producer. */
function topologicalOrder(weightNodes: OnnxNode[], inputs: { name: string }[], rewired: OnnxNode[], pairs: Map<string, OnnxNode[]>): OnnxNode[] {
  const nodes: OnnxNode[] = [...weightNodes];
  for (const value of inputs) nodes.push(...(pairs.get(value.name) ?? []));
  for (const node of rewired) {
    nodes.push(node);
    for (const out of node.output) nodes.push(...(pairs.get(out) ?? []));
  }
  return nodes;
}
