// Softmax and top-k over one image's logits.

/** Classes with a class activation map when the caller does not say (the feature view's top 5). */
export const DEFAULT_TOP_CLASSES = 5;

export interface ClassScore {
  index: number;
  label: string;
  prob: number;
}

/** Numerically stable softmax in float64 (logits can be large for confident models). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** The k best classes, best first; ties keep the lower index first (as torch.topk does on CPU). */
export function topK(logits: ArrayLike<number>, k: number, labels: readonly string[]): ClassScore[] {
  const probs = softmax(logits);
  const count = Math.min(k, probs.length);
  const best: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    if (best.length < count || probs[i] > probs[best[best.length - 1]]) {
      let at = best.length;
      while (at > 0 && probs[i] > probs[best[at - 1]]) at--;
      best.splice(at, 0, i);
      if (best.length > count) best.pop();
    }
  }
  return scored(probs, best, labels);
}

/** The scores of the given classes, in the given order (a ranking made elsewhere: onnxruntime's TopK). */
export function scoresOf(logits: ArrayLike<number>, indices: readonly number[], labels: readonly string[]): ClassScore[] {
  return scored(softmax(logits), indices, labels);
}

function scored(probs: Float64Array, indices: readonly number[], labels: readonly string[]): ClassScore[] {
  return indices.map((index) => ({ index, label: labels[index] ?? `class ${index}`, prob: probs[index] }));
}
