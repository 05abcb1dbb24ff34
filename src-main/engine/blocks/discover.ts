// Finds every residual block from the graph's structure, like the stages (model/stages.ts): no node
// or tensor name is trusted. A block is a residual Add on the trunk; of its two inputs, the
// residual branch F(x) is the one with more convolutions since the last trunk cut (the block input,
// or in pre-activation v2 projection blocks the shared pre-activation), and the shortcut is the
// other: the block input itself (identity, 0 convolutions) or a projection (one 1×1 convolution,
// torchvision's `downsample`). A Relu that is the Add's only consumer is the block's post-add
// activation (v1); pre-activation v2 blocks end at the Add.
//
// Ids are torchvision's module names, `<stage>.<index>` with a 0-based index inside the stage
// (layer1.0 … layer4.2 for ResNet-50), so they line up with PyTorch whatever the export called things.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Shape, analyseShapes } from '../model/graph-shapes.js';
import type { ModelInfo } from '../model/inspect.js';
import type { OnnxModel } from '../model/onnx-proto.js';
import { type StageMap, discoverStages, findBlockEnds, findTrunk } from '../model/stages.js';
import { type StageName } from '../core/vocabulary.js';

export type BlockStage = Exclude<StageName, 'stem'>;

export interface BlockInfo {
  /** `layer3.1`: stage and 0-based index, as torchvision names the module. */
  id: string;
  stage: BlockStage;
  index: number;
  /** torchvision's `downsample`: the shortcut is a projection (a 1×1 convolution), not the identity. */
  downsample: boolean;
  /** 2 where the block halves the resolution (the first block of layer2..layer4), else 1. */
  stride: number;
  /** Graph tensors: the block input, the residual branch F(x) and the shortcut as the Add reads them, the Add's output, and the block output (after the post-add Relu where there is one). */
  input: string;
  branch: string;
  shortcut: string;
  sum: string;
  output: string;
  /** Whether a Relu follows the Add (v1); pre-activation v2 blocks end at the Add. */
  postActivation: boolean;
  /** [C, H, W] of the block input and of its output (= branch = shortcut) at the model's input size. */
  inputShape: [number, number, number];
  shape: [number, number, number];
}

export interface BlockMap {
  blocks: BlockInfo[];
  /** The stage discovery the blocks were grouped by. */
  stages: StageMap;
}

/** Raised when a model has no blocks the lens can use; hosts list the reason. */
export class BlockDiscoveryError extends EngineError {
  constructor(message: string) {
    super(ErrorCode.UNSUPPORTED_MODEL, `residual blocks unavailable: ${message}`);
  }
}

const chw = (shape: Shape | undefined): [number, number, number] | undefined => (shape && shape.length === 4 ? [shape[1], shape[2], shape[3]] : undefined);

/** Every residual block of a ResNet in forward order; throws BlockDiscoveryError with the reason otherwise. */
export function discoverBlocks(model: OnnxModel, info: ModelInfo, stageMap?: StageMap): BlockMap {
  let stages: StageMap;
  try {
    stages = stageMap ?? discoverStages(model, info);
  } catch (error) {
    throw new BlockDiscoveryError((error as Error).message.replace(/^feature maps unavailable: /, ''));
  }
  const graph = model.graph;
  const trunk = findTrunk(graph, info.input.name);
  const { shapes } = analyseShapes(graph, info.input.name, [1, 3, info.input.height ?? 224, info.input.width ?? 224]);

  // Convolutions along each tensor's deepest path since the last trunk cut.
  const cutSet = new Set(trunk.cuts.map((c) => c.tensor));
  const convDepth = new Map<string, number>();
  for (const node of graph.node) {
    let deepest = 0;
    for (const i of node.input) if (!cutSet.has(i)) deepest = Math.max(deepest, convDepth.get(i) ?? 0);
    for (const o of node.output) convDepth.set(o, deepest + (node.opType === 'Conv' ? 1 : 0));
  }
  const depthOf = (tensor: string): number => (cutSet.has(tensor) ? 0 : (convDepth.get(tensor) ?? 0));

  // Block ends among the cuts, exactly as stage discovery finds them.
  const ends = findBlockEnds(graph, trunk, info.input.name).map((end) => ({ add: end.add, output: end.tensor, postActivation: end.postActivation }));

  const stageOf = new Map(stages.stages.map((s) => [s.tensor, s.name]));
  const blocks: BlockInfo[] = [];
  let stageIndex = 1;
  let index = 0;
  let input = stages.stages[0].tensor;
  for (const end of ends) {
    const stage = stages.stages[stageIndex]?.name as BlockStage | undefined;
    if (!stage) throw new BlockDiscoveryError('more residual blocks than the four stages hold');
    const add = graph.node[end.add];
    const [a, b] = add.input;
    const [da, db] = [depthOf(a), depthOf(b)];
    let branch: string;
    let shortcut: string;
    if (da !== db) [branch, shortcut] = da > db ? [a, b] : [b, a];
    else if (a === input || b === input) [branch, shortcut] = a === input ? [b, a] : [a, b];
    else
      throw new BlockDiscoveryError(
        `cannot tell the residual branch from the shortcut at block ${stage}.${index} (both inputs of its Add have ${da} convolutions)`,
      );
    const shape = chw(shapes.get(end.output));
    const inputShape = chw(shapes.get(input));
    if (!shape || !inputShape) throw new BlockDiscoveryError(`cannot derive the shapes of block ${stage}.${index}`);
    blocks.push({
      id: `${stage}.${index}`,
      stage,
      index,
      downsample: depthOf(shortcut) > 0,
      stride: Math.round(inputShape[1] / shape[1]),
      input,
      branch,
      shortcut,
      sum: add.output[0],
      output: end.output,
      postActivation: end.postActivation,
      inputShape,
      shape,
    });
    input = end.output;
    index++;
    if (stageOf.get(end.output) === stage) {
      stageIndex++;
      index = 0;
    }
  }
  const expected = stages.stages.slice(1).reduce((sum, s) => sum + s.blocks, 0);
  if (blocks.length !== expected || stageIndex !== stages.stages.length)
    throw new BlockDiscoveryError(`found ${blocks.length} residual blocks where the stages hold ${expected}`);
  return { blocks, stages };
}

/** Resolves user-given block ids; an unknown one is an INVALID_ARGUMENT listing every valid id. */
export function resolveBlockIds(blocks: readonly Pick<BlockInfo, 'id'>[], ids: readonly string[]): string[] {
  const valid = new Set(blocks.map((b) => b.id));
  const unknown = ids.filter((id) => !valid.has(id));
  if (unknown.length > 0) {
    throw new EngineError(
      ErrorCode.INVALID_ARGUMENT,
      `unknown block id${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this model's blocks are ${blocks.map((b) => b.id).join(', ')}`,
    );
  }
  return [...new Set(ids)];
}
