// The gradient runs of recent (image, model, class) triples, so that an app switching method, stage
// or back to a class it showed repaints from memory: every stage method (Grad-CAM … HiResCAM,
// EigenCAM) and the input maps are formulas over the cached activations and gradients, computed in
// milliseconds, while a gradient run costs about three inferences (ResNet-50: ~0.2 s on 2 cores).
//
// Bounded by bytes, least recently used first out. For ResNet-50 at 224 px one image's logits and
// stage activations take 6.9 MB, each class's stage and input gradients 7.5 MB: the default 256 MB
// keeps about 30 classes, a few photos' worth.
import type { StageName } from '../core/vocabulary.js';
import type { Explainer, GradientRun, StageTensors } from './explainer.js';

export const DEFAULT_GRADIENT_CACHE_BYTES = 256 * 1024 * 1024;

interface ImageEntry {
  logits: Float32Array;
  activations: Map<StageName, { data: Float32Array; shape: [number, number, number] }>;
  ep: GradientRun['ep'];
}

interface ClassEntry {
  stages: Map<StageName, Float32Array>;
  input: Float32Array;
}

type Entry = { kind: 'image'; value: ImageEntry } | { kind: 'class'; value: ClassEntry };

/** A map with a byte budget: reading an entry makes it the most recent, storing one evicts the oldest past the budget. */
export class ByteLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return; // larger than the whole budget: never kept
    this.entries.set(key, { value, bytes });
    this.used += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.used -= entry.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}

export interface GradientCacheStats {
  /** Classes served from memory. */
  hits: number;
  /** Classes that needed a gradient run. */
  misses: number;
  /** Gradient runs made (several missing classes share one). */
  runs: number;
}

export class GradientCache {
  private readonly lru: ByteLru<Entry>;
  readonly stats: GradientCacheStats = { hits: 0, misses: 0, runs: 0 };

  constructor(maxBytes = DEFAULT_GRADIENT_CACHE_BYTES) {
    this.lru = new ByteLru(maxBytes);
  }

  get bytes(): number {
    return this.lru.bytes;
  }

  /** The logits of an image already run (either pass), or undefined. */
  logits(key: string): Float32Array | undefined {
    for (const guided of [false, true]) {
      const entry = this.lru.get(`${key}|${guided}`);
      if (entry?.kind === 'image') return entry.value.logits;
    }
    return undefined;
  }

  /**
   * explainer.run(input, 1, { classes, guided }) for the image known by `key` (which must change
   * whenever the input or the model does), running only the classes not in memory, all in one run.
   */
  async run(explainer: Explainer, key: string, input: Float32Array, classes: readonly number[], guided: boolean): Promise<GradientRun> {
    const imageKey = `${key}|${guided}`;
    const classKey = (c: number): string => `${imageKey}|${c}`;
    const imageEntry = this.lru.get(imageKey);
    const cached = new Map<number, ClassEntry>();
    if (imageEntry?.kind === 'image') {
      for (const c of classes) {
        const entry = this.lru.get(classKey(c));
        if (entry?.kind === 'class') cached.set(c, entry.value);
      }
    }
    const missing = classes.filter((c) => !cached.has(c));
    this.stats.hits += classes.length - missing.length;
    this.stats.misses += missing.length;
    let image = imageEntry?.kind === 'image' ? imageEntry.value : undefined;
    let ms = 0;
    if (missing.length > 0 || !image) {
      const run = await explainer.run(input, 1, { classes: missing.length > 0 ? missing : [classes[0]], guided });
      this.stats.runs += 1;
      ms = run.ms;
      image = {
        logits: run.logits[0].slice(),
        activations: new Map(Object.entries(run.stages).map(([name, s]) => [name as StageName, { data: s.activation, shape: s.shape }])),
        ep: run.ep,
      };
      this.lru.set(imageKey, { kind: 'image', value: image }, bytesOf(image.logits, ...[...image.activations.values()].map((a) => a.data)));
      const ran = missing.length > 0 ? missing : [classes[0]];
      ran.forEach((c, row) => {
        const stages = new Map<StageName, Float32Array>();
        for (const [name, s] of Object.entries(run.stages)) {
          const n = s.shape[0] * s.shape[1] * s.shape[2];
          stages.set(name as StageName, s.gradient.slice(row * n, (row + 1) * n));
        }
        const inputSize = run.inputGradient.length / run.rows;
        const entry: ClassEntry = { stages, input: run.inputGradient.slice(row * inputSize, (row + 1) * inputSize) };
        cached.set(c, entry);
        this.lru.set(classKey(c), { kind: 'class', value: entry }, bytesOf(entry.input, ...stages.values()));
      });
    }
    return compose(
      image,
      classes.map((c) => cached.get(c) as ClassEntry),
      ms,
    );
  }

  clear(): void {
    this.lru.clear();
  }
}

const bytesOf = (...arrays: Float32Array[]): number => arrays.reduce((sum, a) => sum + a.byteLength, 0);

/** The cached pieces as one run's result, rows in the order of `rows`. */
function compose(image: ImageEntry, rows: ClassEntry[], ms: number): GradientRun {
  const stack = (parts: Float32Array[]): Float32Array => {
    if (parts.length === 1) return parts[0];
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  };
  const stages = Object.fromEntries(
    [...image.activations].map(([name, a]) => [
      name,
      { activation: a.data, gradient: stack(rows.map((r) => r.stages.get(name) as Float32Array)), shape: a.shape } satisfies StageTensors,
    ]),
  ) as Record<StageName, StageTensors>;
  return { logits: [image.logits], stages, inputGradient: stack(rows.map((r) => r.input)), rows: rows.length, ms, ep: image.ep };
}
