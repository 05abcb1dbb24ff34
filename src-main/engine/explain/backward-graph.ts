// Reverse-mode differentiation of a ResNet graph, written as ordinary ONNX nodes: the edited model
// computes the logits, the stage activations and ∂ score_c / ∂ (every stage output and the input) in
// one session.run, on any execution provider, with no autograd framework. Only data gradients are
// built (no weight gradients), so the backward pass costs about one more inference.
//
// Seeds: the graph input GRADIENT_CLASSES holds K class indices; the gradient of the output is the
// K one-hot rows, so K classes come back from one run (backward batch K). The forward batch N must be
// 1 (the activations broadcast against the K seeds) or K (one class per image: integrated gradients,
// SmoothGrad).
//
// Guided backprop (Springenberg et al. 2015) is the switch GUIDED_SWITCH of the same graph: every
// ReLU then passes back only positive gradients, max(g, 0) · [y > 0]. Off, the floor is the most
// negative float32, so max(g, floor) = g and the rule is the exact ReLU derivative.
//
// Rules per operator (y = op(x), g = ∂s/∂y):
//   Conv            ConvTranspose(g, W) with the forward's strides, pads, dilations and group, and
//                   output_padding so the result has x's size (W is reused: a Conv's [M,C,kh,kw]
//                   weight is the ConvTranspose weight from M to C channels).
//   BatchNorm       g · scale/√(var+ε) per channel (inference form; constants computed in float64).
//   Relu / Clip     g · [y > 0] (Clip: [min < y < max]); the mask is taken from y, so the forward's
//                   fused Conv+Relu kernels stay as they are.
//   MaxPool         the argmax of every window (ties to the first element, as PyTorch and onnxruntime
//                   pick): from opset 11 by comparing every window value, read by a one-hot depthwise
//                   Conv, with the pooled output (runs on every provider: WebGPU's MaxPool has no
//                   Indices output); before, from MaxPool's Indices output. One mask per kernel
//                   offset, then a depthwise ConvTranspose with one-hot kernels adds each masked g
//                   back into its window position: overlapping windows that share a maximum add up.
//   GlobalAveragePool / ReduceMean(2,3) / global AveragePool   g / (H·W) broadcast over H×W.
//   Add / Sum / Sub g to each input (−g for Sub's second); Mul / Div by a constant: g · c, g / c.
//   Gemm / MatMul   g · Bᵀ (B constant), scaled by alpha.
//   Flatten / Reshape / Squeeze / Unsqueeze / Identity / Dropout   g reshaped to x's shape.
// Anything else on the path from the input to the scores: GRADIENTS_UNSUPPORTED naming the operator.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Shape, analyseShapes } from '../model/graph-shapes.js';
import {
  AttributeType,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  TensorDataType,
  attributeOf,
  intAttribute,
  intsAttribute,
  tensorFloats,
  toNumber,
} from '../model/onnx-proto.js';
import { NodeWriter, defaultOpset } from '../model/reduction-graph.js';

import { GRADIENT_CLASSES, GUIDED_SWITCH } from '../model/reduction-graph.js';
export { GRADIENT_CLASSES, GUIDED_SWITCH };
/** Output holding ∂ score / ∂ input, [K, C, H, W]. */
export const INPUT_GRADIENT = 'reslens.grad.input';
/** Bumped whenever the emitted nodes change, so cached gradient models are rebuilt. */
export const GRADIENTS_VERSION = 3;

/** Output holding ∂ score / ∂ (a stage's output), [K, C, H, W]. */
export const stageGradient = (stage: string): string => `reslens.grad.${stage}`;

export interface GradientTargets {
  /** The model's image input and its [1,C,H,W] shape. */
  input: string;
  inputShape: Shape;
  /** The scores differentiated: the model's output, [N, classes]. */
  output: string;
  classes: number;
  /** Stage name → the tensor whose gradient is returned. */
  stages: readonly { name: string; tensor: string }[];
}

const FLOAT = TensorDataType.FLOAT;
const ints = (name: string, values: number[]): OnnxAttribute => ({ name, type: AttributeType.INTS, ints: values });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: AttributeType.INT, i: value });
const float = (name: string, value: number): OnnxAttribute => ({ name, type: AttributeType.FLOAT, f: value });
const product = (values: number[]): number => values.reduce((p, v) => p * v, 1);
/** The most negative float32: max(g, this) = g for every finite g. */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

function unsupported(message: string): EngineError {
  return new EngineError(ErrorCode.GRADIENTS_UNSUPPORTED, `explanations unavailable: ${message}`);
}

/** Constant tensors by name: initializers and Constant nodes with a tensor value. */
function constantTensors(graph: OnnxGraph): Map<string, OnnxTensor> {
  const tensors = new Map(graph.initializer.map((t) => [t.name, t]));
  for (const node of graph.node) {
    const value = node.opType === 'Constant' ? attributeOf(node, 'value')?.t : undefined;
    if (value) tensors.set(node.output[0], value);
  }
  return tensors;
}

/** Tensors that depend on the input (everything else is a constant the optimiser folds). */
function dependents(graph: OnnxGraph, input: string): Set<string> {
  const live = new Set([input]);
  for (const node of graph.node) if (node.input.some((i) => live.has(i))) for (const o of node.output) live.add(o);
  return live;
}

function floats64(tensor: OnnxTensor | undefined, what: string): Float64Array {
  if (!tensor) throw unsupported(`${what} is not a constant`);
  return Float64Array.from(tensorFloats(tensor));
}

/** A Conv's or pool's sliding window over the spatial axes: what the backward rules of both need. */
interface SlidingWindow {
  /** Spatial sizes of the input and the output. */
  inSize: number[];
  outSize: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Explicit begin/end pads (auto_pad resolved from the shapes). */
  pads: { begin: number[]; end: number[] };
}

/** The window of `node` from its attributes and the [N,C,…] shapes of its input and output. */
function slidingWindow(node: OnnxNode, xShape: Shape, yShape: Shape, kernel: number[]): SlidingWindow {
  const spatial = xShape.length - 2;
  const inSize = xShape.slice(2);
  const outSize = yShape.slice(2);
  const strides = intsAttribute(node, 'strides', new Array(spatial).fill(1));
  const dilations = intsAttribute(node, 'dilations', new Array(spatial).fill(1));
  return { inSize, outSize, kernel, strides, dilations, pads: explicitPads(node, inSize, outSize, kernel, strides, dilations) };
}

/** Explicit begin/end pads of a Conv or pool, resolving auto_pad from the shapes. */
function explicitPads(
  node: OnnxNode,
  inSize: number[],
  outSize: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): { begin: number[]; end: number[] } {
  const raw = attributeOf(node, 'auto_pad')?.s;
  const mode = raw ? Buffer.from(raw).toString() : 'NOTSET';
  const rank = inSize.length;
  if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
    const total = inSize.map((size, i) => Math.max(0, (outSize[i] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - size));
    const small = total.map((t) => Math.floor(t / 2));
    const large = total.map((t, i) => t - small[i]);
    return mode === 'SAME_UPPER' ? { begin: small, end: large } : { begin: large, end: small };
  }
  if (mode === 'VALID') return { begin: new Array(rank).fill(0), end: new Array(rank).fill(0) };
  const pads = intsAttribute(node, 'pads', new Array(2 * rank).fill(0));
  return { begin: pads.slice(0, rank), end: pads.slice(rank) };
}

/**
 * ConvTranspose attributes that map a gradient of outSize back onto inSize exactly:
 * out = s·(in′−1) + output_padding + d·(k−1) + 1 − pad_begin − pad_end (ONNX's ConvTranspose). Where
 * the forward dropped trailing input rows (the output padding would be negative), the end padding
 * grows instead: those rows get no gradient, as in the forward they were never read.
 */
function transposeAttributes({ inSize, outSize, kernel, strides, dilations, pads }: SlidingWindow, group: number): OnnxAttribute[] {
  const end = [...pads.end];
  const outputPadding = inSize.map((size, i) => {
    const reached = strides[i] * (outSize[i] - 1) + dilations[i] * (kernel[i] - 1) + 1 - pads.begin[i] - pads.end[i];
    const extra = size - reached;
    if (extra < 0) {
      end[i] -= extra;
      return 0;
    }
    return extra;
  });
  return [
    ints('kernel_shape', kernel),
    ints('strides', strides),
    ints('dilations', dilations),
    ints('pads', [...pads.begin, ...end]),
    ints('output_padding', outputPadding),
    int('group', group),
  ];
}

class BackwardBuilder {
  readonly w: NodeWriter;
  private count = 0;
  /** Gradient contributions per forward tensor, summed when the tensor's producer is reached. */
  private readonly contributions = new Map<string, string[]>();
  private readonly shapes: Map<string, Shape>;
  private readonly constants: Map<string, OnnxTensor>;
  private readonly live: Set<string>;
  /** Scalar floor for the ReLU rule: 0 when guided, the lowest float32 otherwise. */
  private floor?: string;

  constructor(
    private readonly model: OnnxModel,
    private readonly targets: GradientTargets,
    readonly opset: number,
  ) {
    this.w = new NodeWriter(opset, 'reslens.grad');
    this.shapes = analyseShapes(model.graph, targets.input, targets.inputShape).shapes;
    this.constants = constantTensors(model.graph);
    this.live = dependents(model.graph, targets.input);
  }

  private fresh(what: string): string {
    this.count += 1;
    return `reslens.grad.t${this.count}.${what}`;
  }

  private shape(tensor: string, node: OnnxNode): Shape {
    const s = this.shapes.get(tensor);
    if (!s) throw unsupported(`the shape of ${tensor} (${node.opType} ${node.name ?? ''}) cannot be derived`);
    return s;
  }

  private floatConstant(what: string, dims: number[], values: ArrayLike<number>): string {
    return this.w.constant({ name: this.fresh(what), dims, dataType: FLOAT, floatData: Array.from(values) });
  }

  private add(tensor: string, gradient: string): void {
    if (!this.live.has(tensor)) return;
    this.contributions.set(tensor, [...(this.contributions.get(tensor) ?? []), gradient]);
  }

  /** The summed gradient of a tensor, or undefined when it does not reach the scores. */
  gradientOf(tensor: string): string | undefined {
    const parts = this.contributions.get(tensor);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0];
    const sum = this.fresh('sum');
    this.w.node('Sum', parts, [sum]);
    this.contributions.set(tensor, [sum]);
    return sum;
  }

  seed(): void {
    const { output, classes } = this.targets;
    // one-hot rows: Equal(classes as a column, 0..classes−1) — Equal and Cast exist from opset 7, OneHot only from 9.
    const range = this.w.constant({
      name: 'reslens.grad.class_range',
      dims: [1, classes],
      dataType: TensorDataType.INT64,
      int64Data: Array.from({ length: classes }, (_, i) => i),
    });
    this.w.reshape(GRADIENT_CLASSES, [-1, 1], 'reslens.grad.class_column');
    this.w.node('Equal', ['reslens.grad.class_column', range], ['reslens.grad.one_hot_bool']);
    this.w.node('Cast', ['reslens.grad.one_hot_bool'], ['reslens.grad.one_hot'], [int('to', FLOAT)]);
    const outShape = this.shapes.get(output);
    if (outShape && outShape.length !== 2) this.w.reshape('reslens.grad.one_hot', [-1, ...outShape.slice(1)], 'reslens.grad.seed');
    this.add(output, outShape && outShape.length !== 2 ? 'reslens.grad.seed' : 'reslens.grad.one_hot');
    // The guided switch as a floor for max(g, floor): Not/Cast/Mul exist from opset 7 (Where only from 9).
    this.w.node('Not', [GUIDED_SWITCH], ['reslens.grad.unguided']);
    this.w.node('Cast', ['reslens.grad.unguided'], ['reslens.grad.unguided_float'], [int('to', FLOAT)]);
    const lowest = this.floatConstant('lowest', [], [LOWEST_FLOAT32]);
    this.floor = 'reslens.grad.floor';
    this.w.node('Mul', ['reslens.grad.unguided_float', lowest], [this.floor]);
  }

  /** Walks the graph backwards from the scores, emitting each node's data-gradient rule. */
  backward(): Map<string, string> {
    const stageTensors = new Set(this.targets.stages.map((s) => s.tensor));
    const finished = new Map<string, string>();
    const nodes = this.model.graph.node;
    for (let n = nodes.length - 1; n >= 0; n--) {
      const node = nodes[n];
      const outputs = node.output.filter((o) => o !== '');
      const g = outputs.length > 0 ? this.gradientOf(outputs[0]) : undefined;
      if (!g) continue;
      if (stageTensors.has(outputs[0])) finished.set(outputs[0], g);
      this.rule(node, g);
    }
    const inputGradient = this.gradientOf(this.targets.input);
    if (!inputGradient) throw unsupported('the scores do not depend on the input');
    finished.set(this.targets.input, inputGradient);
    return finished;
  }

  private liveInputs(node: OnnxNode): string[] {
    return node.input.filter((i) => i !== '' && this.live.has(i));
  }

  /** g reshaped to x's shape, keeping the batch axis free. */
  private reshapeTo(g: string, x: string, node: OnnxNode): string {
    const shape = this.shape(x, node);
    const out = this.fresh('reshaped');
    this.w.reshape(g, [-1, ...shape.slice(1)], out);
    return out;
  }

  private rule(node: OnnxNode, g: string): void {
    const live = this.liveInputs(node);
    const x = node.input[0];
    const y = node.output[0];
    const label = `${node.opType}${node.name ? ` (${node.name})` : ''}`;
    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
        this.add(x, g);
        return;
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
        this.add(x, this.reshapeTo(g, x, node));
        return;
      case 'Relu':
        this.add(x, this.maskedRelu(g, y, 0, undefined));
        return;
      case 'Clip': {
        const bounds = this.clipBounds(node);
        this.add(x, this.maskedRelu(g, y, bounds.min, bounds.max));
        return;
      }
      case 'Add':
      case 'Sum':
      case 'Sub': {
        const outShape = this.shape(y, node);
        node.input.forEach((input, index) => {
          if (!this.live.has(input)) return;
          if (this.shape(input, node).join() !== outShape.join()) throw unsupported(`${label} broadcasts an input that depends on the image`);
          if (node.opType === 'Sub' && index === 1) {
            const negated = this.fresh('neg');
            this.w.node('Neg', [g], [negated]);
            this.add(input, negated);
          } else this.add(input, g);
        });
        return;
      }
      case 'Mul':
      case 'Div': {
        if (live.length !== 1 || (node.opType === 'Div' && node.input[0] !== live[0])) throw unsupported(`${label} of two image-dependent tensors`);
        const constant = node.input.find((i) => i !== live[0]) as string;
        if (this.shape(live[0], node).join() !== this.shape(y, node).join()) throw unsupported(`${label} broadcasts an input that depends on the image`);
        const out = this.fresh(node.opType.toLowerCase());
        this.w.node(node.opType, [g, constant], [out]);
        this.add(live[0], out);
        return;
      }
      case 'BatchNormalization':
        this.batchNorm(node, g, label);
        return;
      case 'Conv':
        this.conv(node, g, label);
        return;
      case 'MaxPool':
        this.maxPool(node, g, label);
        return;
      case 'GlobalAveragePool':
        this.spreadMean(node, g);
        return;
      case 'AveragePool': {
        const s = this.shape(x, node);
        const kernel = intsAttribute(node, 'kernel_shape', []);
        const pads = intsAttribute(node, 'pads', []);
        if (kernel.join() !== s.slice(2).join() || pads.some((p) => p !== 0))
          throw unsupported(`${label}: only a global AveragePool (kernel = input size, no padding) is differentiated`);
        this.spreadMean(node, g);
        return;
      }
      case 'ReduceMean': {
        const axes = this.reduceAxes(node);
        if (axes.join() !== '2,3') throw unsupported(`${label} over axes ${axes.join(',')}: only the spatial mean (axes 2,3) is differentiated`);
        const keep = intAttribute(node, 'keepdims', 1) === 1;
        const channels = this.shape(x, node)[1];
        let gg = g;
        if (!keep) {
          gg = this.fresh('unsqueezed');
          this.w.reshape(g, [-1, channels, 1, 1], gg);
        }
        this.spreadMean(node, gg);
        return;
      }
      case 'Gemm':
        this.gemm(node, g, label);
        return;
      case 'MatMul':
        this.matMul(node, g, label);
        return;
      default:
        throw unsupported(
          `the model uses ${label}, whose backward pass ResLens does not build (supported: Conv, BatchNormalization, Relu, Clip, MaxPool, GlobalAveragePool, ReduceMean, AveragePool, Add, Sum, Sub, Mul, Div, Gemm, MatMul, Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout)`,
        );
    }
  }

  private reduceAxes(node: OnnxNode): number[] {
    const fromAttribute = intsAttribute(node, 'axes', []);
    if (fromAttribute.length > 0) return [...fromAttribute].sort();
    const axesInput = node.input[1];
    const tensor = axesInput ? this.constants.get(axesInput) : undefined;
    if (!tensor) return [];
    const values = tensor.int64Data?.length
      ? tensor.int64Data.map(toNumber)
      : tensor.rawData
        ? Array.from(new BigInt64Array(tensor.rawData.buffer.slice(tensor.rawData.byteOffset, tensor.rawData.byteOffset + tensor.rawData.byteLength)), Number)
        : [];
    return values.map((a) => (a < 0 ? a + 4 : a)).sort();
  }

  private clipBounds(node: OnnxNode): { min: number; max: number | undefined } {
    const attribute = (name: string): number | undefined => attributeOf(node, name)?.f;
    const input = (i: number): number | undefined => {
      const name = node.input[i];
      if (!name) return undefined;
      const tensor = this.constants.get(name);
      if (!tensor) throw unsupported(`Clip ${node.name ?? ''} has bounds that are not constants`);
      return tensorFloats(tensor)[0];
    };
    const min = this.opset >= 11 ? input(1) : attribute('min');
    const max = this.opset >= 11 ? input(2) : attribute('max');
    return { min: min ?? LOWEST_FLOAT32, max };
  }

  /** max(g, floor) · [min < y (< max)]: the ReLU derivative, or guided backprop's rule when switched. */
  private maskedRelu(g: string, y: string, min: number, max: number | undefined): string {
    const mask = this.fresh('mask');
    const above = this.fresh('above');
    this.w.node('Greater', [y, this.floatConstant('min', [], [min])], [above]);
    let condition = above;
    if (max !== undefined) {
      const below = this.fresh('below');
      condition = this.fresh('inside');
      this.w.node('Less', [y, this.floatConstant('max', [], [max])], [below]);
      this.w.node('And', [above, below], [condition]);
    }
    this.w.node('Cast', [condition], [mask], [int('to', FLOAT)]);
    const floored = this.fresh('floored');
    if (this.opset >= 8) this.w.node('Max', [g, this.floor as string], [floored]);
    else {
      // Max broadcasts only from opset 8: keep g where g > floor instead.
      const keep = this.fresh('keep');
      const keepFloat = this.fresh('keep_float');
      this.w.node('Greater', [g, this.floor as string], [keep]);
      this.w.node('Cast', [keep], [keepFloat], [int('to', FLOAT)]);
      this.w.node('Mul', [g, keepFloat], [floored]);
    }
    const out = this.fresh('relu_grad');
    this.w.node('Mul', [floored, mask], [out]);
    return out;
  }

  private batchNorm(node: OnnxNode, g: string, label: string): void {
    if (intAttribute(node, 'training_mode', 0) === 1) throw unsupported(`${label} in training mode`);
    const [x, scaleName, , , varName] = node.input;
    const scale = floats64(this.constants.get(scaleName), `${label} scale`);
    const variance = floats64(this.constants.get(varName), `${label} variance`);
    const epsilon = attributeOf(node, 'epsilon')?.f ?? 1e-5;
    // float32 epsilon as stored, widened: the same value PyTorch's float32 kernel adds.
    const factor = Array.from(scale, (s, c) => s / Math.sqrt(variance[c] + Math.fround(epsilon)));
    const rank = this.shape(x, node).length;
    this.addScaled(x, g, this.floatConstant('bn_factor', [scale.length, ...new Array(Math.max(0, rank - 2)).fill(1)], factor), 'bn_grad');
  }

  /** x's gradient is g times a constant, broadcast (BatchNorm's per-channel factor, a mean's 1/(H·W)). */
  private addScaled(x: string, g: string, constant: string, what: string): void {
    const out = this.fresh(what);
    this.w.node('Mul', [g, constant], [out]);
    this.add(x, out);
  }

  private conv(node: OnnxNode, g: string, label: string): void {
    const [x, weight] = node.input;
    if (this.live.has(weight) || !this.constants.has(weight)) throw unsupported(`${label} has a weight that is not a constant`);
    const xShape = this.shape(x, node);
    const yShape = this.shape(node.output[0], node);
    const wShape = this.shape(weight, node);
    const spatial = xShape.length - 2;
    const window = slidingWindow(node, xShape, yShape, wShape.slice(2));
    const { kernel, strides, dilations, pads } = window;
    const group = intAttribute(node, 'group', 1);
    const out = this.fresh('conv_grad');
    const pointwise = kernel.every((k) => k === 1) && pads.begin.every((p) => p === 0) && pads.end.every((p) => p === 0);
    const stride1 = strides.every((s) => s === 1);
    const asConv = group === 1 && spatial === 2 && this.opset >= 11 && stride1 ? this.convPads(window) : undefined;
    if (asConv) {
      // A Conv with the transposed, flipped kernel: onnxruntime runs Conv in its blocked NCHWc kernels,
      // measured ~1.5× quicker than ConvTranspose (GEMM then col2im, image by image) for a batch of classes.
      this.w.node(
        'Conv',
        [g, this.transposedKernel(weight, kernel)],
        [out],
        [ints('kernel_shape', kernel), ints('dilations', dilations), ints('pads', asConv), ints('strides', [1, 1])],
      );
    } else if (
      group === 1 &&
      spatial === 2 &&
      this.opset >= 11 &&
      pointwise &&
      strides.every((s) => s === 2) &&
      xShape[2] === 2 * yShape[2] &&
      xShape[3] === 2 * yShape[3]
    ) {
      // A strided 1×1 Conv (the projection shortcut): the transposed 1×1 Conv at the small size, then
      // its result spread onto every second row and column (zeros between) by DepthToSpace.
      const small = this.fresh('pointwise');
      this.w.node('Conv', [g, this.transposedKernel(weight, kernel)], [small], [ints('kernel_shape', kernel), ints('strides', [1, 1])]);
      this.spreadEven(small, out);
    } else {
      this.w.node('ConvTranspose', [g, weight], [out], transposeAttributes(window, group));
    }
    this.add(x, out);
  }

  /** t [K,C,h,w] → out [K,C,2h,2w]: t at even rows and columns, zeros elsewhere (DepthToSpace, DCR). */
  private spreadEven(t: string, out: string): void {
    const zeros = this.fresh('zeros');
    const stacked = this.fresh('phases');
    this.w.node('Mul', [t, this.floatConstant('zero', [], [0])], [zeros]);
    this.w.node('Concat', [t, zeros, zeros, zeros], [stacked], [int('axis', 1)]);
    this.w.node('DepthToSpace', [stacked], [out], [int('blocksize', 2)]);
  }

  /**
   * Pads of the stride-1 Conv that equals the forward's ConvTranspose: begin d·(k−1) − p_begin, end
   * so the output has x's size; undefined when either would be negative.
   */
  private convPads({ inSize, outSize, kernel, strides, dilations, pads }: SlidingWindow): number[] | undefined {
    const begin = kernel.map((k, i) => dilations[i] * (k - 1) - pads.begin[i]);
    const end = kernel.map((k, i) => inSize[i] + dilations[i] * (k - 1) - outSize[i] * strides[i] - begin[i]);
    return [...begin, ...end].every((p) => p >= 0) ? [...begin, ...end] : undefined;
  }

  /** W [M,C,kh,kw] → [C,M,kh,kw] flipped in both spatial axes, as nodes the optimiser folds into a constant at load. */
  private transposedKernel(weight: string, kernel: number[]): string {
    const transposed = this.fresh('w_t');
    this.w.node('Transpose', [weight], [transposed], [ints('perm', [1, 0, 2, 3])]);
    if (kernel.every((k) => k === 1)) return transposed;
    const int64s = (what: string, values: number[]): string =>
      this.w.constant({ name: this.fresh(what), dims: [values.length], dataType: TensorDataType.INT64, int64Data: values });
    const flipped = this.fresh('w_flipped');
    this.w.node(
      'Slice',
      [transposed, int64s('starts', [-1, -1]), int64s('ends', [-(kernel[0] + 1), -(kernel[1] + 1)]), int64s('axes', [2, 3]), int64s('steps', [-1, -1])],
      [flipped],
    );
    return flipped;
  }

  /**
   * MaxPool: the window positions the forward picked (Indices, flat over N·C·H·W; reduced modulo
   * H·W to a position in the plane), compared with each kernel offset's expected position to give
   * kh·kw masks; the masked gradients become the channels of a depthwise ConvTranspose whose
   * one-hot kernels put each back at its offset, summing where windows overlap.
   */
  private maxPool(node: OnnxNode, g: string, label: string): void {
    if (this.opset < 8) throw unsupported(`${label}: MaxPool's Indices output needs opset 8 or later (the model has ${this.opset})`);
    if (intAttribute(node, 'storage_order', 0) !== 0) throw unsupported(`${label} with column-major storage_order`);
    const x = node.input[0];
    const xShape = this.shape(x, node);
    const yShape = this.shape(node.output[0], node);
    if (xShape.length !== 4) throw unsupported(`${label} on a ${xShape.length}-d tensor`);
    const [, channels] = xShape;
    const [, , outH, outW] = yShape;
    const window = slidingWindow(node, xShape, yShape, intsAttribute(node, 'kernel_shape', []));
    const { kernel } = window;
    const offsets = kernel[0] * kernel[1];

    const byComparison = this.opset >= 11 && intAttribute(node, 'ceil_mode', 0) === 0;
    const hitFloat = byComparison ? this.windowArgmaxByComparison(node, x, channels, window) : this.windowArgmaxByIndices(node, x, channels, window);
    const g5 = this.fresh('g_5d');
    this.w.reshape(g, [-1, channels, 1, outH, outW], g5);
    const routed = this.fresh('routed');
    this.w.node('Mul', [g5, hitFloat], [routed]);
    const stacked = this.fresh('stacked');
    this.w.reshape(routed, [-1, channels * offsets, outH, outW], stacked);
    const out = this.fresh('maxpool_grad');
    const oneHot = new Float32Array(channels * offsets * offsets);
    for (let c = 0; c < channels; c++) for (let k = 0; k < offsets; k++) oneHot[(c * offsets + k) * offsets + k] = 1;
    const kernelName = this.floatConstant('unpool_kernel', [channels * offsets, 1, kernel[0], kernel[1]], oneHot);
    this.w.node('ConvTranspose', [stacked, kernelName], [out], transposeAttributes(window, channels));
    this.add(x, out);
  }

  /**
   * [N,C,kh·kw,h,w] 0/1: which kernel offset holds each window's maximum (the first in row-major
   * order on ties, as PyTorch and onnxruntime pick). Every window value is read by a strided Slice
   * of the input padded with the lowest float32 (pure copies: exact on every provider, and, like
   * MaxPool, the padding never wins), compared with the pooled output, and only the first match
   * along the offsets kept (a cumulative sum equal to 1). Works on every provider; onnxruntime's
   * WebGPU MaxPool has no Indices output. (The windows were read by a depthwise Conv with one-hot
   * kernels until onnxruntime 1.29's WebGPU Conv with a channel multiplier — group C, 9C outputs —
   * was found to return wrong values: 0.45 relative on lavapipe, tests/engine/explain-webgpu.test.ts.)
   */
  private windowArgmaxByComparison(node: OnnxNode, x: string, channels: number, window: SlidingWindow): string {
    const { kernel, strides, dilations, pads, outSize: out } = window;
    const int64s = (what: string, values: number[]): string =>
      this.w.constant({ name: this.fresh(what), dims: [values.length], dataType: TensorDataType.INT64, int64Data: values });
    const padded = this.fresh('padded');
    this.w.node(
      'Pad',
      [x, int64s('pads', [0, 0, pads.begin[0], pads.begin[1], 0, 0, pads.end[0], pads.end[1]]), this.floatConstant('lowest', [], [LOWEST_FLOAT32])],
      [padded],
    );
    const axes = int64s('axes', [2, 3]);
    const steps = int64s('steps', strides);
    const windows: string[] = [];
    for (let kh = 0; kh < kernel[0]; kh++) {
      for (let kw = 0; kw < kernel[1]; kw++) {
        const start = [kh * dilations[0], kw * dilations[1]];
        const end = [start[0] + (out[0] - 1) * strides[0] + 1, start[1] + (out[1] - 1) * strides[1] + 1];
        const values = this.fresh('window');
        const window5 = this.fresh('window_5d');
        this.w.node('Slice', [padded, int64s('starts', start), int64s('ends', end), axes, steps], [values]);
        this.w.reshape(values, [-1, channels, 1, out[0], out[1]], window5);
        windows.push(window5);
      }
    }
    const windows5 = this.fresh('windows_5d');
    this.w.node('Concat', windows, [windows5], [int('axis', 2)]);
    const pooled5 = this.fresh('pooled_5d');
    this.w.reshape(node.output[0], [-1, channels, 1, out[0], out[1]], pooled5);
    const equal = this.fresh('is_max');
    const equalFloat = this.fresh('is_max_float');
    this.w.node('Equal', [windows5, pooled5], [equal]);
    this.w.node('Cast', [equal], [equalFloat], [int('to', FLOAT)]);
    const axis = this.w.constant({ name: this.fresh('axis'), dims: [], dataType: TensorDataType.INT64, int64Data: [2] });
    const running = this.fresh('running');
    this.w.node('CumSum', [equalFloat, axis], [running]);
    const first = this.fresh('first');
    const firstFloat = this.fresh('first_float');
    this.w.node('Equal', [running, this.floatConstant('one', [], [1])], [first]);
    this.w.node('Cast', [first], [firstFloat], [int('to', FLOAT)]);
    const hit = this.fresh('hit_float');
    this.w.node('Mul', [equalFloat, firstFloat], [hit]);
    return hit;
  }

  /** The same mask from MaxPool's Indices output (opset 8–10, before CumSum): flat N·C·H·W positions reduced modulo H·W. */
  private windowArgmaxByIndices(node: OnnxNode, x: string, channels: number, window: SlidingWindow): string {
    const { kernel, strides, dilations, pads } = window;
    const [height, width] = window.inSize;
    const [outH, outW] = window.outSize;
    const offsets = kernel[0] * kernel[1];
    const pooled = this.fresh('pooled');
    const indices = this.fresh('indices');
    this.w.node(
      'MaxPool',
      [x],
      [pooled, indices],
      (node.attribute ?? []).filter((a) => a.name !== 'storage_order'),
    );
    // Position within the plane: i − ⌊i / HW⌋·HW (Mod on int64 needs opset 10).
    const plane = this.w.constant({ name: this.fresh('plane'), dims: [], dataType: TensorDataType.INT64, int64Data: [height * width] });
    const quotient = this.fresh('quotient');
    const whole = this.fresh('whole');
    const position = this.fresh('position');
    this.w.node('Div', [indices, plane], [quotient]);
    this.w.node('Mul', [quotient, plane], [whole]);
    this.w.node('Sub', [indices, whole], [position]);
    const positionColumn = this.fresh('position_5d');
    this.w.reshape(position, [-1, channels, 1, outH, outW], positionColumn);
    // Expected position of each kernel offset in each window (−1 where the offset falls in the padding).
    const expected: number[] = [];
    for (let kh = 0; kh < kernel[0]; kh++) {
      for (let kw = 0; kw < kernel[1]; kw++) {
        for (let oh = 0; oh < outH; oh++) {
          for (let ow = 0; ow < outW; ow++) {
            const ih = oh * strides[0] - pads.begin[0] + kh * dilations[0];
            const iw = ow * strides[1] - pads.begin[1] + kw * dilations[1];
            expected.push(ih >= 0 && ih < height && iw >= 0 && iw < width ? ih * width + iw : -1);
          }
        }
      }
    }
    const expectedName = this.w.constant({ name: this.fresh('expected'), dims: [offsets, outH, outW], dataType: TensorDataType.INT64, int64Data: expected });
    const hit = this.fresh('hit');
    const hitFloat = this.fresh('hit_float');
    this.w.node('Equal', [positionColumn, expectedName], [hit]);
    this.w.node('Cast', [hit], [hitFloat], [int('to', FLOAT)]);
    return hitFloat;
  }

  /** The gradient of a spatial mean: g / (H·W) at every position. */
  private spreadMean(node: OnnxNode, g: string): void {
    const x = node.input[0];
    const shape = this.shape(x, node);
    const spatial = shape.slice(2);
    this.addScaled(x, g, this.floatConstant('mean_spread', [1, 1, ...spatial], new Float32Array(product(spatial)).fill(1 / product(spatial))), 'mean_grad');
  }

  private gemm(node: OnnxNode, g: string, label: string): void {
    const [a, b] = node.input;
    if (this.live.has(b) || !this.live.has(a)) throw unsupported(`${label} with an image-dependent second operand`);
    if (intAttribute(node, 'transA', 0) === 1) throw unsupported(`${label} with transA`);
    const transB = intAttribute(node, 'transB', 0);
    const alpha = attributeOf(node, 'alpha')?.f ?? 1;
    const out = this.fresh('gemm_grad');
    // dA = alpha · g · B′ᵀ, B′ = transB ? Bᵀ : B. Before opset 11 Gemm requires C: a zero scalar.
    const inputs = [g, b];
    if (this.opset < 11) inputs.push(this.floatConstant('zero', [1], [0]));
    this.w.node('Gemm', inputs, [out], [float('alpha', alpha), float('beta', 0), int('transA', 0), int('transB', transB === 1 ? 0 : 1)]);
    this.add(a, out);
  }

  private matMul(node: OnnxNode, g: string, label: string): void {
    const [a, b] = node.input;
    if (this.live.has(b) || !this.live.has(a)) throw unsupported(`${label} with an image-dependent second operand`);
    const bShape = this.shape(b, node);
    if (bShape.length !== 2) throw unsupported(`${label} with a ${bShape.length}-d constant`);
    const transposed = this.fresh('transposed');
    this.w.node('Transpose', [b], [transposed], [ints('perm', [1, 0])]);
    const out = this.fresh('matmul_grad');
    this.w.node('MatMul', [g, transposed], [out]);
    this.add(a, out);
  }
}

/**
 * `model` with the backward pass added (the original is not modified): inputs GRADIENT_CLASSES and
 * GUIDED_SWITCH, outputs stageGradient(stage) per stage and INPUT_GRADIENT, [K,…] each.
 * Throws GRADIENTS_UNSUPPORTED naming the first operator it cannot differentiate.
 */
export function addGradients(model: OnnxModel, targets: GradientTargets): OnnxModel {
  const opset = defaultOpset(model);
  if (opset < 7) throw unsupported(`opset ${opset} is older than 7`);
  if (model.graph.initializer.some((t) => t.dataLocation === 1)) throw unsupported('models with external weight files cannot be edited yet');
  const builder = new BackwardBuilder(model, targets, opset);
  builder.seed();
  const finished = builder.backward();
  const outputs: { name: string; dims: number }[] = [];
  for (const stage of targets.stages) {
    const gradient = finished.get(stage.tensor);
    if (!gradient) throw unsupported(`the scores do not depend on stage ${stage.name}`);
    builder.w.node('Identity', [gradient], [stageGradient(stage.name)]);
    outputs.push({ name: stageGradient(stage.name), dims: 4 });
  }
  builder.w.node('Identity', [finished.get(targets.input) as string], [INPUT_GRADIENT]);
  outputs.push({ name: INPUT_GRADIENT, dims: targets.inputShape.length });
  const existing = new Set(model.graph.input.map((i) => i.name));
  if (existing.has(GRADIENT_CLASSES) || existing.has(GUIDED_SWITCH)) throw unsupported('the model already has ResLens gradient inputs');
  return {
    ...model,
    graph: {
      ...model.graph,
      node: [...model.graph.node, ...builder.w.nodes],
      input: [
        ...model.graph.input,
        { name: GRADIENT_CLASSES, type: { tensorType: { elemType: TensorDataType.INT64, shape: { dim: [{ dimParam: 'K' }] } } } },
        { name: GUIDED_SWITCH, type: { tensorType: { elemType: TensorDataType.BOOL, shape: { dim: [] } } } },
      ],
      output: [...model.graph.output, ...outputs.map((o) => ({ name: o.name, type: { tensorType: { elemType: FLOAT } } }))],
    },
  };
}
