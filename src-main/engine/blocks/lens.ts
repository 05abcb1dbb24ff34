// The block lens: a second session on the model, over the gated graph (gated-graph.ts) with the
// stage reductions and block norms behind the feature switch, so one session serves the block
// strip (norms, hover maps), live lesions (top-5, feature maps and CAMs of the lesioned network)
// and lesion studies (many gate settings over the same decoded images). The classifier's own
// session stays the unedited graph it always was: plain classification neither changes nor slows.
//
// The lens is built on first use (editing and a session cost about one model load) and shares the
// classifier's inference gate, so its runs take turns with the classifier's instead of competing
// for the same cores.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Classifier, type ImageSummary, type SummaryRequest, readSummary, summaryFetches } from '../infer/classifier.js';
import type { RunPriority } from '../infer/gate.js';
import { createSession } from '../infer/session.js';
import { type SessionRunner, runnerFor } from '../infer/session-runner.js';
import type { ClassScore } from '../infer/topk.js';
import { type ExposedTensor, discardExposedModel, exposedModelFile, withExposedTensors } from '../model/expose.js';
import { loadAndInspect } from '../model/inspect.js';
import { encodeModel } from '../model/onnx-proto.js';
import { FEATURES_SWITCH, HEATMAP_MAX_SWITCH, REDUCTIONS_VERSION, addStageReductions } from '../model/reduction-graph.js';
import { type BlockInfo, BlockDiscoveryError, discoverBlocks, resolveBlockIds } from './discover.js';
import { GATED_GRAPH_VERSION, addBlockGates, addBlockNorms, allBlockOutputs, blockOutputs, gateInput } from './gated-graph.js';

/** Largest scale a block's residual branch may be given (the app's slider goes to 2×). */
export const MAX_BLOCK_SCALE = 4;

/** Block id → scale of its residual branch: 0 removes it, 1 (the default for blocks not named) leaves it. */
export type BlockGates = Readonly<Record<string, number>>;

/** One block's norms for one image (L2 over the whole tensor), and where it sits. */
export interface BlockNorms {
  id: string;
  stage: string;
  index: number;
  downsample: boolean;
  inputNorm: number;
  residualNorm: number;
  shortcutNorm: number;
  outputNorm: number;
}

/** One block's hover maps for one image: channel means of F(x) (as gated) and of the output, H×W. */
export interface BlockMaps {
  id: string;
  width: number;
  height: number;
  residual: Float32Array;
  output: Float32Array;
}

export interface LensRunOptions {
  gates?: BlockGates;
  /** Compute the block norms and hover maps in the graph (the feature switch). */
  norms?: boolean;
  /** Also the stage reductions and CAMs of this (possibly lesioned) network: one image per run. */
  summary?: SummaryRequest;
  priority?: RunPriority;
}

export interface LensOutput {
  logits: Float32Array[];
  inferenceMs: number;
  epByImage: string[];
  norms?: BlockNorms[][];
  maps?: BlockMaps[][];
  summaries?: ImageSummary[];
}

/** Checks ids and scales; returns the gates with every block's value (1 where not given). */
export function normaliseGates(blocks: readonly BlockInfo[], gates: BlockGates = {}): Map<string, number> {
  resolveBlockIds(blocks, Object.keys(gates));
  for (const [id, scale] of Object.entries(gates)) {
    if (!Number.isFinite(scale) || scale < 0 || scale > MAX_BLOCK_SCALE)
      throw new EngineError(
        ErrorCode.INVALID_ARGUMENT,
        `block ${id}: scale ${scale} is outside 0..${MAX_BLOCK_SCALE} (0 removes the residual branch, 1 leaves it as trained)`,
      );
  }
  return new Map(blocks.map((b) => [b.id, gates[b.id] ?? 1]));
}

export class BlockLens {
  private constructor(
    readonly classifier: Classifier,
    readonly blocks: BlockInfo[],
    private readonly runner: SessionRunner,
  ) {}

  /** Builds (or finds cached) the gated graph of the classifier's model and opens a session on the classifier's provider. */
  static async open(classifier: Classifier): Promise<BlockLens> {
    const stageMap = classifier.stageMap;
    if (!stageMap) throw new BlockDiscoveryError(classifier.stagesError?.replace(/^feature maps unavailable: /, '') ?? 'the model has no discoverable stages');
    const { model, info } = await loadAndInspect(classifier.modelPath);
    const { blocks } = discoverBlocks(model, info, stageMap);
    if (model.graph.initializer.some((t) => t.dataLocation === 1)) throw new BlockDiscoveryError('models with external weight files cannot be edited yet');
    const exposed: ExposedTensor[] = stageMap.stages.map((s) => ({ name: s.tensor, shape: s.shape }));
    if (stageMap.head.features !== stageMap.stages[stageMap.stages.length - 1].tensor)
      exposed.push({ name: stageMap.head.features, shape: stageMap.head.featuresShape });
    const batchAxis = info.input.dynamicBatch ? 'N' : 1;
    const build = (): Uint8Array =>
      encodeModel(
        addBlockNorms(
          addStageReductions(withExposedTensors(addBlockGates(model, blocks), exposed, batchAxis), stageMap.stages, {
            scores: info.output.name,
            head: stageMap.head,
          }),
          blocks,
        ),
      );
    let source: string | Uint8Array;
    let sha = '';
    if (classifier.cacheDir) {
      const cached = await exposedModelFile(
        path.join(classifier.cacheDir, 'exposed'),
        info.sha256,
        exposed,
        build,
        `gated-v${GATED_GRAPH_VERSION}+reductions-v${REDUCTIONS_VERSION}`,
      );
      source = cached.file;
      sha = cached.sha256;
    } else {
      source = build();
    }
    const { crop } = classifier.preprocessing;
    const options = { threads: classifier.threads, cacheDir: classifier.cacheDir, modelSha256: sha || undefined };
    try {
      const choice = await createSession(source, { ...options, ep: classifier.ep, probe: { dims: [1, 3, crop, crop], output: info.output.name } });
      return new BlockLens(classifier, blocks, runnerFor(choice, source, options));
    } catch (error) {
      if (typeof source === 'string') await discardExposedModel(source); // a damaged cached copy is rebuilt next time
      throw new EngineError(
        ErrorCode.UNSUPPORTED_MODEL,
        `residual blocks unavailable: onnxruntime refused the gated graph (${(error as Error).message.split('\n')[0]})`,
        { cause: error },
      );
    }
  }

  get ep(): string {
    return this.runner.ep;
  }

  /** Runs `count` images packed in `batch` through the network with `gates` applied (every image of the call gets the same gates). */
  async run(batch: Float32Array, count: number, options: LensRunOptions = {}): Promise<LensOutput> {
    const gates = normaliseGates(this.blocks, options.gates);
    return this.classifier.exclusive(options.priority ?? 'interactive', () => this.runNow(batch, count, gates, options));
  }

  private async runNow(batch: Float32Array, count: number, gates: Map<string, number>, options: LensRunOptions): Promise<LensOutput> {
    const { classifier } = this;
    const map = classifier.stageMap;
    if (!map) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, 'feature maps unavailable for this model');
    const outputName = classifier.info.output.name;
    const summary = options.summary;
    const switchOn = options.norms === true || summary !== undefined;
    const fetches = [outputName];
    if (options.norms) fetches.push(...allBlockOutputs(this.blocks));
    if (summary) fetches.push(...summaryFetches(map, summary));
    const feeds: Record<string, ort.Tensor> = {
      [FEATURES_SWITCH]: new ort.Tensor('bool', [switchOn], []),
      [HEATMAP_MAX_SWITCH]: new ort.Tensor('bool', [summary?.heatmapMode === 'max'], []),
    };
    for (const [id, scale] of gates) feeds[gateInput(id)] = new ort.Tensor('float32', Float32Array.of(scale), []);
    const size = classifier.imageSize;
    const { crop } = classifier.preprocessing;
    const named = blockOutputs(this.blocks);
    const out: LensOutput = {
      logits: [],
      inferenceMs: 0,
      epByImage: [],
      ...(options.norms ? { norms: [], maps: [] } : {}),
      ...(summary ? { summaries: [] } : {}),
    };
    const start = performance.now();
    // In-graph top channels are ranked for a run's first image: summaries go one image per run.
    const step = summary ? 1 : Math.min(count, classifier.maxRunBatch);
    for (let first = 0; first < count; first += step) {
      const n = Math.min(step, count - first);
      const input = new ort.Tensor('float32', batch.subarray(first * size, (first + n) * size), [n, 3, crop, crop]);
      let result: ort.InferenceSession.ReturnType;
      let ep: string;
      try {
        ({ outputs: result, ep } = await this.runner.run({ [classifier.info.input.name]: input, ...feeds }, [...new Set(fetches)]));
      } catch (error) {
        throw new EngineError(ErrorCode.INFERENCE_FAILED, `inference failed on ${this.ep}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
      }
      const values = result[outputName].data as Float32Array;
      const classes = values.length / n;
      for (let i = 0; i < n; i++) {
        out.logits.push(values.subarray(i * classes, (i + 1) * classes));
        out.epByImage.push(ep);
      }
      if (summary) out.summaries?.push(readSummary(result, map, summary.heatmapMode));
      if (options.norms) {
        const floats = (name: string): Float32Array => result[name].data as Float32Array;
        for (let i = 0; i < n; i++) {
          out.norms?.push(
            this.blocks.map((b, k) => ({
              id: b.id,
              stage: b.stage,
              index: b.index,
              downsample: b.downsample,
              inputNorm: floats(named[k].inputNorm)[i],
              residualNorm: floats(named[k].residualNorm)[i],
              shortcutNorm: floats(named[k].shortcutNorm)[i],
              outputNorm: floats(named[k].outputNorm)[i],
            })),
          );
          out.maps?.push(
            this.blocks.map((b, k) => {
              const [, height, width] = b.shape;
              const plane = height * width;
              return {
                id: b.id,
                width,
                height,
                residual: floats(named[k].residualMap).slice(i * plane, (i + 1) * plane),
                output: floats(named[k].outputMap).slice(i * plane, (i + 1) * plane),
              };
            }),
          );
        }
      }
    }
    out.inferenceMs = performance.now() - start;
    return out;
  }

  top(logits: Float32Array, k: number): ClassScore[] {
    return this.classifier.top(logits, k);
  }

  async dispose(): Promise<void> {
    await this.runner.release();
  }
}

// One lens per classifier, opened on first use and released with it by whoever owns the classifier.
const lenses = new WeakMap<Classifier, Promise<BlockLens>>();

/** The classifier's block lens, opened once (a failed open is retried on the next call). */
export function blockLens(classifier: Classifier): Promise<BlockLens> {
  let lens = lenses.get(classifier);
  if (!lens) {
    lens = BlockLens.open(classifier);
    lenses.set(classifier, lens);
    lens.catch(() => lenses.delete(classifier));
  }
  return lens;
}

/** Releases the classifier's lens if one was opened (call before or with classifier.dispose()). */
export async function releaseBlockLens(classifier: Classifier): Promise<void> {
  const lens = lenses.get(classifier);
  if (!lens) return;
  lenses.delete(classifier);
  await (await lens.catch(() => undefined))?.dispose();
}
