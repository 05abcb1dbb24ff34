// The gated graph: a copy of the model in which every residual block's branch is multiplied by a
// scalar graph input (its gate) before the Add, so one session runs the intact network (all gates
// 1), a lesioned one (a gate 0: the block passes its shortcut, through its post-add Relu in v1) or
// a scaled one, chosen per run. Multiplying by 1 and adding 0 are exact in IEEE arithmetic, so the
// gates themselves change no bit; what can differ is how onnxruntime fuses the edited graph (see
// tests/engine/blocks-gated.test.ts for what is measured).
//
// The block norms (‖input‖, ‖F(x)‖, ‖shortcut‖, ‖output‖ per image) and two small maps per block
// (channel means of F(x) and of the output, for hover heatmaps) sit in the then-branch of an If on
// the feature switch, like the stage reductions: a lesion study's runs (switch off) do not pay for
// them. Norms are computed once per distinct tensor (a block's input is the previous block's output).
import type { OnnxModel } from '../model/onnx-proto.js';
import { AttributeType, TensorDataType } from '../model/onnx-proto.js';
import { type BranchOutput, GATE_INPUT_PREFIX, NodeWriter, defaultOpset, withFeatureBranch } from '../model/reduction-graph.js';
import type { BlockInfo } from './discover.js';

/** Bumped whenever the gated graph's added nodes change, so cached copies are rebuilt. */
export const GATED_GRAPH_VERSION = 1;

export const gateInput = (blockId: string): string => `${GATE_INPUT_PREFIX}${blockId}`;

/** The tensor the Add reads in place of the branch: F(x) times the gate. */
export const gatedBranch = (blockId: string): string => `reslens.${blockId}.gated_branch`;

export interface BlockOutputs {
  /** Per image L2 norms, [N] each. */
  inputNorm: string;
  residualNorm: string;
  shortcutNorm: string;
  outputNorm: string;
  /** Per image channel means of F(x) (as gated) and of the block output, [N, 1, H·W]. */
  residualMap: string;
  outputMap: string;
}

/** Output names per block; norms of a tensor shared by two blocks are one output. */
export function blockOutputs(blocks: readonly BlockInfo[]): BlockOutputs[] {
  const norm = (tensor: string): string => `reslens.norm.${tensor}`;
  return blocks.map((b) => ({
    inputNorm: norm(b.input),
    residualNorm: norm(gatedBranch(b.id)),
    shortcutNorm: norm(b.shortcut),
    outputNorm: norm(b.output),
    residualMap: `reslens.${b.id}.residual_map`,
    outputMap: `reslens.${b.id}.output_map`,
  }));
}

/** Every output the block lens adds, in a stable order (for fetching). */
export function allBlockOutputs(blocks: readonly BlockInfo[]): string[] {
  return [...new Set(blockOutputs(blocks).flatMap((o) => Object.values(o) as string[]))];
}

/** `model` with a gate input per block multiplying its residual branch (the original is not modified). */
export function addBlockGates(model: OnnxModel, blocks: readonly BlockInfo[]): OnnxModel {
  const bySum = new Map(blocks.map((b) => [b.sum, b]));
  const nodes = model.graph.node.flatMap((node) => {
    const block = node.output.length === 1 ? bySum.get(node.output[0]) : undefined;
    if (!block) return [node];
    const gated = gatedBranch(block.id);
    const mul = { opType: 'Mul', name: `reslens.${block.id}.gate`, input: [block.branch, gateInput(block.id)], output: [gated], attribute: [] };
    // Only the branch side is rewired: a v1 Add whose two inputs are one tensor does not occur (the shortcut and branch differ by construction).
    return [mul, { ...node, input: node.input.map((i) => (i === block.branch ? gated : i)) }];
  });
  const gates = blocks.map((b) => ({ name: gateInput(b.id), type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [] } } } }));
  return { ...model, graph: { ...model.graph, node: nodes, input: [...model.graph.input, ...gates] } };
}

/**
 * The L2 norm over C, H and W, one number per image, in two steps: per channel over H×W, then over
 * the channels. One ReduceL2 over all 800 k values of a layer1 tensor sums them in float32 in one
 * run and came out 2.2e-4 (relative) under PyTorch's; summing per channel first keeps each partial
 * sum short (measured ≤ 1e-5 on the reference model). Axes became an input in opset 18.
 */
function l2PerImage(writer: NodeWriter, opset: number, input: string, output: string): void {
  const reduceL2 = (from: string, axes: number[], to: string): void => {
    const keepdims = { name: 'keepdims', type: AttributeType.INT, i: 0 };
    if (opset >= 18) {
      const axesInput = writer.constant({ name: `reslens.blocks.axes.${axes.join('')}`, dims: [axes.length], dataType: TensorDataType.INT64, int64Data: axes });
      writer.node('ReduceL2', [from, axesInput], [to], [keepdims]);
    } else {
      writer.node('ReduceL2', [from], [to], [{ name: 'axes', type: AttributeType.INTS, ints: axes }, keepdims]);
    }
  };
  reduceL2(input, [2, 3], `${output}.channels`);
  reduceL2(`${output}.channels`, [1], output);
}

/** `model` (already gated) with the block norms and maps behind the feature switch; the model must have FEATURES_SWITCH as an input. */
export function addBlockNorms(model: OnnxModel, blocks: readonly BlockInfo[]): OnnxModel {
  const opset = defaultOpset(model);
  const writer = new NodeWriter(opset, 'reslens.blocks');
  const outputs: BranchOutput[] = [];
  const seen = new Set<string>();
  const named = blockOutputs(blocks);
  blocks.forEach((block, i) => {
    const out = named[i];
    const sources: [string, string][] = [
      [block.input, out.inputNorm],
      [gatedBranch(block.id), out.residualNorm],
      [block.shortcut, out.shortcutNorm],
      [block.output, out.outputNorm],
    ];
    for (const [tensor, output] of sources) {
      if (seen.has(output)) continue;
      seen.add(output);
      l2PerImage(writer, opset, tensor, output);
      outputs.push({ name: output, type: TensorDataType.FLOAT, shape: [1] });
    }
    // Channel means as a MatMul with a 1/C row (onnxruntime's fastest path, as for the stage heatmaps).
    const [channels, height, width] = block.shape;
    const weights = writer.constant({
      name: `reslens.blocks.mean_weights.${channels}`,
      dims: [1, channels],
      dataType: TensorDataType.FLOAT,
      floatData: new Array<number>(channels).fill(1 / channels),
    });
    for (const [tensor, output] of [
      [gatedBranch(block.id), out.residualMap],
      [block.output, out.outputMap],
    ] as const) {
      writer.reshape(tensor, [0, channels, height * width], `${output}.rows`);
      writer.node('MatMul', [weights, `${output}.rows`], [output]);
      outputs.push({ name: output, type: TensorDataType.FLOAT, shape: [1, 1, height * width] });
    }
  });
  return withFeatureBranch(model, writer, 'block_norms', outputs, opset);
}
