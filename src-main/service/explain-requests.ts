// explain.get for the engine service: one gradient session per loaded model (opened on the first
// request, released when the model changes), explanations of a granted image as compact,
// normalised maps. Behaviour lives in engine/explain; this only adapts it to the contract.
// Switching method or class repaints from memory: the decoded, preprocessed image and its crop
// are kept per file (size and modification time in the key), and the gradient runs per (image,
// model, class) in the engine's GradientCache; only integrated gradients and SmoothGrad run again.
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { ClassExplanationValue, EngineEvents, EventName, ExplainMethodName, ExplainValue, HeatmapValue, ImageId, RequestParams } from '../api/contract.js';
import { EngineError, toErrorInfo } from '../engine/core/errors.js';
import { ErrorCode } from '../engine/core/vocabulary.js';
import { explainTensor, isStageMethod, prepareExplainImage } from '../engine/explain/explain.js';
import { Explainer } from '../engine/explain/explainer.js';
import { ByteLru, GradientCache } from '../engine/explain/gradient-cache.js';
import type { RawMap } from '../engine/explain/methods/maps.js';
import { photoCrop } from '../engine/features/extract.js';
import { normalise } from '../engine/features/reduce.js';
import type { Classifier } from '../engine/infer/classifier.js';

const heatmap = (map: RawMap): HeatmapValue => {
  const n = normalise(map.data, map.width, map.height);
  return { width: n.width, height: n.height, data: n.data };
};

/** A prepared image: the network's input and the crop shown under the maps. */
interface PreparedImage {
  input: Float32Array;
  crop: ExplainValue['crop'];
}

/** Prepared images kept: ~0.6 MB of input and ~40 kB of JPEG each at 224 px. */
const PREPARED_CACHE_BYTES = 32 * 1024 * 1024;

export class ExplainRequests {
  private current?: { classifier: Classifier; explainer: Promise<Explainer> };
  private readonly gradients = new GradientCache();
  private readonly prepared = new ByteLru<PreparedImage>(PREPARED_CACHE_BYTES);
  /** Explanations in progress per image, so explain.cancel can stop them. */
  private readonly running = new Map<string, Set<AbortController>>();

  constructor(private readonly emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => void = () => undefined) {}

  private explainer(classifier: Classifier): Promise<Explainer> {
    if (this.current?.classifier !== classifier) {
      void this.release();
      this.gradients.clear();
      this.prepared.clear();
      const explainer = Explainer.load(classifier);
      // A failed load (unsupported model) is not kept: the next request tries again and gets the same clear error.
      explainer.catch(() => {
        if (this.current?.explainer === explainer) this.current = undefined;
      });
      this.current = { classifier, explainer };
    }
    return this.current.explainer;
  }

  /** The image's input tensor and crop, from memory when the file is unchanged. */
  private async prepare(classifier: Classifier, image: { path: string }): Promise<{ key: string; prepared: PreparedImage }> {
    const info = await stat(image.path).catch(() => undefined);
    const key = `${classifier.modelPath}|${image.path}|${info?.size ?? 0}|${info?.mtimeMs ?? 0}`;
    const known = this.prepared.get(key);
    if (known) return { key, prepared: known };
    const explained = await prepareExplainImage(classifier, image.path);
    const crop = await photoCrop(explained.decoded, explained.photoRegion, 448);
    const jpeg = await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
      .jpeg({ quality: 88 })
      .toBuffer();
    const prepared: PreparedImage = {
      input: explained.input,
      crop: { jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength), width: crop.width, height: crop.height },
    };
    this.prepared.set(key, prepared, prepared.input.byteLength + jpeg.byteLength);
    return { key, prepared };
  }

  async explain(
    classifier: Classifier,
    params: RequestParams<'explain.get'>,
    image: { path: string; name: string },
    signal?: AbortSignal,
  ): Promise<ExplainValue> {
    const start = performance.now();
    const explainer = await this.explainer(classifier);
    const methods = (params.methods ?? ['gradcam']) as ExplainMethodName[];
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort);
    const running = this.running.get(params.image) ?? new Set();
    running.add(controller);
    this.running.set(params.image, running);
    try {
      const { key, prepared } = await this.prepare(classifier, image);
      const runsBefore = this.gradients.stats.runs;
      const result = await explainTensor(explainer, classifier, prepared.input, {
        classes: params.classes,
        methods,
        faithfulness: params.faithfulness === true,
        guidedGradient: false,
        integratedSteps: 16,
        smoothGradSamples: 8,
        cache: { store: this.gradients, key },
        signal: controller.signal,
        onProgress: (p) => this.emit('explain.progress', { image: params.image as ImageId, ...p }),
      });
      const multiRun = methods.includes('integrated-gradients') || methods.includes('smoothgrad') || params.faithfulness === true;
      const classes: ClassExplanationValue[] = result.classes.map((e) => ({
        index: e.index,
        label: e.label,
        prob: e.prob,
        score: e.score,
        stages: result.stages.map((s) => ({
          name: s.name,
          paperName: s.paperName,
          shape: s.shape,
          maps: Object.fromEntries(
            methods.filter(isStageMethod).flatMap((m) => (e.stageMaps[s.name][m] ? [[m, heatmap(e.stageMaps[s.name][m] as RawMap)]] : [])),
          ),
        })),
        input: Object.fromEntries(Object.entries(e.inputMaps).map(([m, a]) => [m, heatmap(a.map)])),
        ...(e.faithfulness ? { faithfulness: e.faithfulness } : {}),
      }));
      return {
        image: params.image as ImageId,
        ep: result.ep,
        ms: Math.round((performance.now() - start) * 10) / 10,
        top: result.top,
        crop: prepared.crop,
        methods,
        classes,
        fromCache: !multiRun && this.gradients.stats.runs === runsBefore,
      };
    } catch (error) {
      const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
      throw new EngineError(info.code, info.message, { item: image.name, cause: error });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      running.delete(controller);
      if (running.size === 0) this.running.delete(params.image);
    }
  }

  /** Stops the explanations of `image` in progress; whether there was one. */
  cancel(image: string): { cancelled: boolean } {
    const running = this.running.get(image);
    for (const controller of running ?? []) controller.abort();
    return { cancelled: (running?.size ?? 0) > 0 };
  }

  async release(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await (await current?.explainer.catch(() => undefined))?.dispose();
  }
}
