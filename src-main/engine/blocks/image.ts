// One image through the block lens, as the app's block strip shows it: every block's norms and
// hover maps in the network as run (some blocks removed or scaled), its top-5, and what the
// lesions changed against the intact network (the intact top-1's probability and rank).
import { EngineError } from '../core/errors.js';
import { ErrorCode, type HeatmapMode } from '../core/vocabulary.js';
import { type FeatureOptions, summaryFeatures } from '../features/extract.js';
import { type Heatmap, normalise } from '../features/reduce.js';
import { softmax } from '../infer/topk.js';
import type { ClassScore } from '../infer/topk.js';
import type { BlockGates, BlockLens, BlockNorms } from './lens.js';

export interface ImageBlock extends BlockNorms {
  stride: number;
  scale: number;
  residualMap: Heatmap;
  outputMap: Heatmap;
}

export interface ImageBlocks {
  blocks: ImageBlock[];
  top: ClassScore[];
  intactTop: ClassScore[];
  intactTop1: { index: number; label: string; intactProb: number; prob: number; rank: number };
  ep: string;
  inferenceMs: number;
}

/** `tensor` (one preprocessed image) with `gates` applied, and the intact network for comparison (a second run only when something is gated). */
export async function inspectImageBlocks(lens: BlockLens, tensor: Float32Array, gates: BlockGates = {}, top = 5): Promise<ImageBlocks> {
  const gated = Object.values(gates).some((s) => s !== 1);
  const run = await lens.run(tensor, 1, { norms: true, gates });
  const intact = gated ? await lens.run(tensor, 1) : run;
  const norms = run.norms?.[0] ?? [];
  const maps = run.maps?.[0] ?? [];
  const intactTop = lens.top(intact.logits[0], top);
  const probs = softmax(run.logits[0]);
  const first = intactTop[0];
  let rank = 1;
  for (const p of probs) if (p > probs[first.index]) rank++;
  return {
    blocks: norms.map((n, k) => ({
      ...n,
      stride: lens.blocks[k].stride,
      scale: gates[n.id] ?? 1,
      residualMap: normalise(maps[k].residual, maps[k].width, maps[k].height),
      outputMap: normalise(maps[k].output, maps[k].width, maps[k].height),
    })),
    top: lens.top(run.logits[0], top),
    intactTop,
    intactTop1: { index: first.index, label: first.label, intactProb: first.prob, prob: probs[first.index], rank },
    ep: run.epByImage[0] ?? lens.ep,
    inferenceMs: run.inferenceMs + (gated ? intact.inferenceMs : 0),
  };
}

/** The feature view's stage maps, channels and CAMs of the network with `gates` applied (one run on the lens, reductions in the graph). */
export async function lesionedFeatures(
  lens: BlockLens,
  tensor: Float32Array,
  gates: BlockGates,
  options: FeatureOptions & { heatmapMode?: HeatmapMode } = {},
): Promise<ReturnType<typeof summaryFeatures> & { ep: string; inferenceMs: number }> {
  const run = await lens.run(tensor, 1, { gates, summary: { heatmapMode: options.heatmapMode ?? 'mean', classes: options.topClasses } });
  const summary = run.summaries?.[0];
  if (!summary) throw new EngineError(ErrorCode.INFERENCE_FAILED, 'the run returned no stage summaries');
  return { ...summaryFeatures(lens.classifier, summary, run.logits[0], options), ep: run.epByImage[0] ?? lens.ep, inferenceMs: run.inferenceMs };
}
