// Static shape propagation and multiply-accumulate counting for the operators ResNet exports use.
// Not a general ONNX shape inferencer: unknown operators leave their outputs unknown, and the
// callers report what could not be derived instead of guessing.
import { type OnnxGraph, type OnnxNode, intAttribute, intsAttribute, toNumber, valueShape } from './onnx-proto.js';

export type Shape = number[];

export interface ShapeAnalysis {
  /** Tensor name → concrete shape (batch fixed to 1). */
  shapes: Map<string, Shape>;
  /** Node index → multiply-accumulates for one image. */
  macs: Map<number, number>;
  totalMacs: number;
}

/** Initializer dims by name (and Constant node outputs), used as weights and as shape operands. */
function constantDims(graph: OnnxGraph): Map<string, Shape> {
  const dims = new Map<string, Shape>();
  for (const t of graph.initializer) dims.set(t.name, t.dims.map(toNumber));
  return dims;
}

function convOutputSize(input: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil: boolean): number {
  const span = dilation * (kernel - 1) + 1;
  const raw = (input + padBegin + padEnd - span) / stride;
  return (ceil ? Math.ceil(raw) : Math.floor(raw)) + 1;
}

function spatialOutput(node: OnnxNode, input: Shape, kernel: number[], allowCeil: boolean): number[] {
  const spatial = input.slice(2);
  const strides = intsAttribute(
    node,
    'strides',
    spatial.map(() => 1),
  );
  const dilations = intsAttribute(
    node,
    'dilations',
    spatial.map(() => 1),
  );
  const pads = intsAttribute(node, 'pads', spatial.map(() => 0).concat(spatial.map(() => 0)));
  const ceil = allowCeil && intAttribute(node, 'ceil_mode', 0) === 1;
  const autoPad = node.attribute?.find((a) => a.name === 'auto_pad')?.s;
  const autoPadMode = autoPad ? Buffer.from(autoPad).toString() : 'NOTSET';
  return spatial.map((size, i) => {
    if (autoPadMode === 'SAME_UPPER' || autoPadMode === 'SAME_LOWER') return Math.ceil(size / strides[i]);
    if (autoPadMode === 'VALID') return Math.floor((size - dilations[i] * (kernel[i] - 1) - 1) / strides[i]) + 1;
    return convOutputSize(size, kernel[i], strides[i], pads[i], pads[i + spatial.length], dilations[i], ceil);
  });
}

function broadcast(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

const product = (values: number[]): number => values.reduce((p, v) => p * v, 1);

/**
 * Propagates shapes from the image input (batch 1, the given spatial size) through the graph in
 * node order (ONNX requires topological order) and counts MACs of Conv, Gemm and MatMul.
 */
export function analyseShapes(graph: OnnxGraph, inputName: string, inputShape: Shape): ShapeAnalysis {
  const shapes = new Map<string, Shape>(constantDims(graph));
  const macs = new Map<number, number>();
  shapes.set(inputName, inputShape);
  const known: Known = { shapes, ints: int64Constants(graph) };
  graph.node.forEach((node, index) => {
    const { shape, macs: nodeMacs } = nodeShape(node, known);
    if (nodeMacs !== undefined) macs.set(index, nodeMacs);
    const out = node.output[0];
    if (shape && out) shapes.set(out, shape);
  });
  let totalMacs = 0;
  for (const value of macs.values()) totalMacs += value;
  return { shapes, macs, totalMacs };
}

/** What is known while propagating: shapes so far, and the small int64 initializers (Reshape targets, Squeeze axes). */
interface Known {
  shapes: Map<string, Shape>;
  ints: Map<string, number[]>;
}

/** A node's output shape when it can be derived, and its multiply-accumulates when it does any. */
interface NodeShape {
  shape?: Shape;
  macs?: number;
}

/** Small int64 initializers by name: the operands that decide shapes rather than carry weights. */
function int64Constants(graph: OnnxGraph): Map<string, number[]> {
  const ints = new Map<string, number[]>();
  for (const t of graph.initializer) {
    if (t.dataType === 7 && t.rawData && t.rawData.byteLength <= 64) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      ints.set(
        t.name,
        Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true))),
      );
    } else if (t.dataType === 7 && t.int64Data?.length) {
      ints.set(t.name, t.int64Data.map(toNumber));
    }
  }
  return ints;
}

/** Operators whose output has their first input's shape. */
const SHAPE_KEEPING = new Set(['BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Identity', 'Dropout', 'Softmax', 'LogSoftmax']);
/** Element-wise operators whose output is their inputs' shapes broadcast together. */
const BROADCASTING = new Set(['Add', 'Sum', 'Mul', 'Sub', 'Div']);

function nodeShape(node: OnnxNode, known: Known): NodeShape {
  const x = known.shapes.get(node.input[0]);
  const second = known.shapes.get(node.input[1]);
  if (SHAPE_KEEPING.has(node.opType)) return { shape: x };
  if (BROADCASTING.has(node.opType)) return { shape: broadcastInputs(node, known.shapes) };
  if (node.opType === 'Conv') return x && second ? convShape(node, x, second) : {};
  if (node.opType === 'Gemm') return x && second ? gemmShape(node, x, second) : {};
  if (node.opType === 'MatMul') return x && second && second.length === 2 ? matMulShape(x, second) : {};
  if (!x) return {};
  switch (node.opType) {
    case 'MaxPool':
    case 'AveragePool':
      return { shape: [x[0], x[1], ...spatialOutput(node, x, intsAttribute(node, 'kernel_shape', []), true)] };
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return { shape: [x[0], x[1], ...x.slice(2).map(() => 1)] };
    case 'Flatten': {
      const axis = intAttribute(node, 'axis', 1);
      return { shape: [product(x.slice(0, axis)), product(x.slice(axis))] };
    }
    case 'Reshape':
      return { shape: reshapeShape(x, known.ints.get(node.input[1])) };
    case 'Squeeze':
      return { shape: squeezeShape(node, x, known.ints.get(node.input[1])) };
    default:
      return {};
  }
}

function convShape(node: OnnxNode, x: Shape, w: Shape): NodeShape {
  const shape = [x[0], w[0], ...spatialOutput(node, x, w.slice(2), false)];
  return { shape, macs: product(shape) * product(w.slice(1)) };
}

function gemmShape(node: OnnxNode, x: Shape, w: Shape): NodeShape {
  const transA = intAttribute(node, 'transA', 0) === 1;
  const transB = intAttribute(node, 'transB', 0) === 1;
  const [m, k] = transA ? [x[1], x[0]] : [x[0], x[1]];
  const n = transB ? w[0] : w[1];
  return { shape: [m, n], macs: m * k * n };
}

function matMulShape(x: Shape, w: Shape): NodeShape {
  return { shape: [...x.slice(0, -1), w[1]], macs: product(x.slice(0, -1)) * x[x.length - 1] * w[1] };
}

function broadcastInputs(node: OnnxNode, shapes: Map<string, Shape>): Shape | undefined {
  const inputs = node.input.map((n) => shapes.get(n));
  return inputs.every((s): s is Shape => s !== undefined) ? inputs.reduce(broadcast) : undefined;
}

/** ONNX Reshape: 0 keeps the input's dim, one -1 takes what is left. */
function reshapeShape(x: Shape, target: number[] | undefined): Shape | undefined {
  if (!target) return undefined;
  const known = target.map((d, i) => (d === 0 ? x[i] : d));
  const free = known.indexOf(-1);
  if (free >= 0) known[free] = product(x) / product(known.filter((d) => d !== -1));
  return known;
}

/** Squeeze by the axes attribute (opset < 13) or input (opset 13+), else every dim of 1. */
function squeezeShape(node: OnnxNode, x: Shape, axesInput: number[] | undefined): Shape {
  const axes = intsAttribute(node, 'axes', []).concat(axesInput ?? []);
  const norm = axes.map((a) => (a < 0 ? a + x.length : a));
  return x.filter((d, i) => (norm.length ? !norm.includes(i) : d !== 1));
}

export { valueShape };
