// The gradient session of a loaded classifier: the model with its backward pass added
// (backward-graph.ts), opened lazily, on the first explanation, with the same provider rules and
// fallback as the classifier. It is a second session on purpose: inside the classifier's own graph
// the backward nodes would keep every forward activation alive and in NCHW layout on every plain
// run; here plain classification and batch work stay exactly as fast, and the explanation run
// gives logits, stage activations and all gradients at once.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { Classifier } from '../infer/classifier.js';
import { createSession } from '../infer/session.js';
import { type FallbackEvent, type SessionRunner, runnerFor } from '../infer/session-runner.js';
import type { Ep } from '../core/vocabulary.js';
import { exposedModelFile, withExposedTensors } from '../model/expose.js';
import { loadAndInspect } from '../model/inspect.js';
import { encodeModel } from '../model/onnx-proto.js';
import type { StageInfo } from '../model/stages.js';
import type { StageName } from '../core/vocabulary.js';
import { GRADIENTS_VERSION, GRADIENT_CLASSES, GUIDED_SWITCH, INPUT_GRADIENT, addGradients, stageGradient } from './backward-graph.js';

export interface GradientRunOptions {
  /** Classes differentiated: one backward row each. With `count` images, give one class or one per image. */
  classes: readonly number[];
  guided?: boolean;
}

export interface StageTensors {
  /** The forward activations, [N, C, H, W]. */
  activation: Float32Array;
  /** ∂ score / ∂ activation, [max(N, K), C, H, W]: row r belongs to class r (or image r). */
  gradient: Float32Array;
  shape: [number, number, number];
}

export interface GradientRun {
  /** Logits per image. */
  logits: Float32Array[];
  stages: Record<StageName, StageTensors>;
  /** ∂ score / ∂ input, [max(N, K), 3, H, W]. */
  inputGradient: Float32Array;
  /** Rows in the gradient outputs. */
  rows: number;
  ms: number;
  ep: Ep;
}

export class Explainer {
  private constructor(
    private readonly classifier: Classifier,
    private readonly runner: SessionRunner,
    private readonly stages: StageInfo[],
    readonly loadMs: number,
  ) {}

  /**
   * Builds (or finds cached) the gradient model and opens it. Throws GRADIENTS_UNSUPPORTED naming
   * the operator when the model has one without a backward rule; the classifier is untouched.
   */
  static async load(classifier: Classifier, onFallback?: (event: FallbackEvent) => void): Promise<Explainer> {
    const start = performance.now();
    const map = classifier.stageMap;
    if (!map) throw new EngineError(ErrorCode.GRADIENTS_UNSUPPORTED, `explanations unavailable: ${classifier.stagesError ?? 'no stages found'}`);
    const { modelPath, cacheDir, ep, threads } = classifier.source;
    const { info, model } = await loadAndInspect(modelPath);
    const { crop } = classifier.preprocessing;
    const exposed = map.stages.map((s) => ({ name: s.tensor, shape: s.shape }));
    const build = (): Uint8Array => {
      const withGradients = addGradients(model, {
        input: info.input.name,
        inputShape: [1, 3, crop, crop],
        output: info.output.name,
        classes: info.classes,
        stages: map.stages.map((s) => ({ name: s.name, tensor: s.tensor })),
      });
      return encodeModel(withExposedTensors(withGradients, exposed, info.input.dynamicBatch ? 'N' : 1));
    };
    let source: string | Uint8Array;
    let sha = '';
    if (cacheDir) {
      // Building checks support first, so an unsupported model fails here, not inside onnxruntime.
      const cached = await exposedModelFile(path.join(cacheDir, 'explain'), info.sha256, exposed, build, `gradients-v${GRADIENTS_VERSION}`);
      source = cached.file;
      sha = cached.sha256;
    } else source = build();
    const sessionOptions = { threads, cacheDir, modelSha256: sha || undefined };
    let choice;
    try {
      choice = await createSession(source, { ...sessionOptions, ep: ep ?? 'auto', probe: { dims: [1, 3, crop, crop], output: info.output.name } });
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw new EngineError(
        ErrorCode.GRADIENTS_UNSUPPORTED,
        `explanations unavailable: onnxruntime refused the gradient graph (${(error as Error).message.split('\n')[0]})`,
        { cause: error },
      );
    }
    const runner = runnerFor(choice, source, sessionOptions, onFallback ?? classifier.source.onFallback);
    return new Explainer(classifier, runner, map.stages, performance.now() - start);
  }

  get ep(): Ep {
    return this.runner.ep;
  }

  /** One run: `count` images (packed NCHW) forward, the classes' scores backward. */
  async run(batch: Float32Array, count: number, options: GradientRunOptions): Promise<GradientRun> {
    const k = options.classes.length;
    if (k === 0) throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'no class to explain');
    if (count !== 1 && k !== count)
      throw new EngineError(ErrorCode.INVALID_ARGUMENT, `${count} images need one class each, or one image several classes (got ${k})`);
    const classes = this.classifier.info.classes;
    for (const c of options.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= classes) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `class ${c} is outside 0..${classes - 1}`);
    }
    const { crop } = this.classifier.preprocessing;
    const input = this.classifier.info.input.name;
    const output = this.classifier.info.output.name;
    const fetches = [output, INPUT_GRADIENT, ...this.stages.flatMap((s) => [s.tensor, stageGradient(s.name)])];
    const feeds = {
      [input]: new ort.Tensor('float32', batch.subarray(0, count * 3 * crop * crop), [count, 3, crop, crop]),
      [GRADIENT_CLASSES]: new ort.Tensor(
        'int64',
        BigInt64Array.from(options.classes, (c) => BigInt(c)),
        [k],
      ),
      [GUIDED_SWITCH]: new ort.Tensor('bool', [options.guided === true], []),
    };
    const start = performance.now();
    let result: Awaited<ReturnType<SessionRunner['run']>>;
    try {
      result = await this.runner.run(feeds, [...new Set(fetches)]);
    } catch (error) {
      throw new EngineError(ErrorCode.INFERENCE_FAILED, `gradient run failed on ${this.ep}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    const ms = performance.now() - start;
    const out = result.outputs;
    const floats = (name: string): Float32Array => out[name].data as Float32Array;
    const logitsAll = floats(output);
    const perImage = logitsAll.length / count;
    const stages = Object.fromEntries(
      this.stages.map((s) => [s.name, { activation: floats(s.tensor), gradient: floats(stageGradient(s.name)), shape: s.shape }]),
    ) as Record<StageName, StageTensors>;
    return {
      logits: Array.from({ length: count }, (_, i) => logitsAll.subarray(i * perImage, (i + 1) * perImage)),
      stages,
      inputGradient: floats(INPUT_GRADIENT),
      rows: Math.max(count, k),
      ms,
      ep: result.ep,
    };
  }

  async dispose(): Promise<void> {
    await this.runner.release();
  }
}
