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
  const intValues = new Map<string, number[]>();
  for (const t of graph.initializer) {
    if (t.dataType === 7 && t.rawData && t.rawData.byteLength <= 64) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      intValues.set(
        t.name,
        Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true))),
      );
    } else if (t.dataType === 7 && t.int64Data?.length) {
      intValues.set(t.name, t.int64Data.map(toNumber));
    }
  }

  graph.node.forEach((node, index) => {
    const x = shapes.get(node.input[0]);
    const out = node.output[0];
    let result: Shape | undefined;
    switch (node.opType) {
      case 'Conv': {
        const w = shapes.get(node.input[1]);
        if (!x || !w) break;
        const spatial = spatialOutput(node, x, w.slice(2), false);
        result = [x[0], w[0], ...spatial];
        macs.set(index, product(result) * product(w.slice(1)));
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (!x) break;
        const kernel = intsAttribute(node, 'kernel_shape', []);
        result = [x[0], x[1], ...spatialOutput(node, x, kernel, true)];
        break;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        if (x) result = [x[0], x[1], ...x.slice(2).map(() => 1)];
        break;
      case 'BatchNormalization':
      case 'Relu':
      case 'LeakyRelu':
      case 'Clip':
      case 'Sigmoid':
      case 'Identity':
      case 'Dropout':
      case 'Softmax':
      case 'LogSoftmax':
        result = x;
        break;
      case 'Add':
      case 'Sum':
      case 'Mul':
      case 'Sub':
      case 'Div': {
        const inputs = node.input.map((n) => shapes.get(n));
        if (inputs.every((s): s is Shape => s !== undefined)) result = inputs.reduce(broadcast);
        break;
      }
      case 'Flatten': {
        if (!x) break;
        const axis = intAttribute(node, 'axis', 1);
        result = [product(x.slice(0, axis)), product(x.slice(axis))];
        break;
      }
      case 'Reshape': {
        const target = intValues.get(node.input[1]);
        if (!x || !target) break;
        const known = target.map((d, i) => (d === 0 ? x[i] : d));
        const free = known.indexOf(-1);
        if (free >= 0) known[free] = product(x) / product(known.filter((d) => d !== -1));
        result = known;
        break;
      }
      case 'Squeeze': {
        if (!x) break;
        const axes = intsAttribute(node, 'axes', []).concat(intValues.get(node.input[1]) ?? []);
        const norm = axes.map((a) => (a < 0 ? a + x.length : a));
        result = x.filter((d, i) => (norm.length ? !norm.includes(i) : d !== 1));
        break;
      }
      case 'Gemm': {
        const w = shapes.get(node.input[1]);
        if (!x || !w) break;
        const transA = intAttribute(node, 'transA', 0) === 1;
        const transB = intAttribute(node, 'transB', 0) === 1;
        const [m, k] = transA ? [x[1], x[0]] : [x[0], x[1]];
        const n = transB ? w[0] : w[1];
        result = [m, n];
        macs.set(index, m * k * n);
        break;
      }
      case 'MatMul': {
        const w = shapes.get(node.input[1]);
        if (!x || !w || w.length !== 2) break;
        result = [...x.slice(0, -1), w[1]];
        macs.set(index, product(x.slice(0, -1)) * x[x.length - 1] * w[1]);
        break;
      }
      default:
        break;
    }
    if (result && out) shapes.set(out, result);
  });

  let totalMacs = 0;
  for (const value of macs.values()) totalMacs += value;
  return { shapes, macs, totalMacs };
}

export { valueShape };
