// explain.get for the engine service: one gradient session per loaded model (opened on the first
// request, released when the model changes), explanations of a granted image as compact,
// normalised maps. Behaviour lives in engine/explain; this only adapts it to the contract.
import sharp from 'sharp';
import type { ClassExplanationValue, ExplainMethodName, ExplainValue, HeatmapValue, ImageId, RequestParams } from '../api/contract.js';
import { EngineError, ErrorCode, toErrorInfo } from '../engine/errors.js';
import { explainFile, isStageMethod } from '../engine/explain/explain.js';
import { Explainer } from '../engine/explain/explainer.js';
import type { RawMap } from '../engine/explain/methods/maps.js';
import { photoCrop } from '../engine/features/extract.js';
import { normalise } from '../engine/features/reduce.js';
import type { Classifier } from '../engine/infer/classifier.js';

const heatmap = (map: RawMap): HeatmapValue => {
  const n = normalise(map.data, map.width, map.height);
  return { width: n.width, height: n.height, data: n.data };
};

export class ExplainRequests {
  private current?: { classifier: Classifier; explainer: Promise<Explainer> };

  private explainer(classifier: Classifier): Promise<Explainer> {
    if (this.current?.classifier !== classifier) {
      void this.release();
      const explainer = Explainer.load(classifier);
      // A failed load (unsupported model) is not kept: the next request tries again and gets the same clear error.
      explainer.catch(() => {
        if (this.current?.explainer === explainer) this.current = undefined;
      });
      this.current = { classifier, explainer };
    }
    return this.current.explainer;
  }

  async explain(classifier: Classifier, params: RequestParams<'explain.get'>, image: { path: string; name: string }): Promise<ExplainValue> {
    const start = performance.now();
    const explainer = await this.explainer(classifier);
    const methods = (params.methods ?? ['gradcam']) as ExplainMethodName[];
    try {
      const explained = await explainFile(explainer, classifier, image.path, { classes: params.classes, methods, faithfulness: params.faithfulness === true, guidedGradient: false, integratedSteps: 16, smoothGradSamples: 8 });
      const { result } = explained;
      const crop = await photoCrop(explained.decoded, explained.photoRegion, 448);
      const jpeg = await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
      const classes: ClassExplanationValue[] = result.classes.map((e) => ({
        index: e.index,
        label: e.label,
        prob: e.prob,
        score: e.score,
        stages: result.stages.map((s) => ({
          name: s.name,
          paperName: s.paperName,
          shape: s.shape,
          maps: Object.fromEntries(methods.filter(isStageMethod).flatMap((m) => (e.stageMaps[s.name][m] ? [[m, heatmap(e.stageMaps[s.name][m] as RawMap)]] : []))),
        })),
        input: Object.fromEntries(Object.entries(e.inputMaps).map(([m, a]) => [m, heatmap(a.map)])),
        ...(e.faithfulness ? { faithfulness: e.faithfulness } : {}),
      }));
      return {
        image: params.image as ImageId,
        ep: result.ep,
        ms: Math.round((performance.now() - start) * 10) / 10,
        top: result.top,
        crop: { jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength), width: crop.width, height: crop.height },
        methods,
        classes,
      };
    } catch (error) {
      const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
      throw new EngineError(info.code, info.message, { item: image.name, cause: error });
    }
  }

  async release(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await (await current?.explainer.catch(() => undefined))?.dispose();
  }
}
