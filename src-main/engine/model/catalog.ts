// The model catalog: which pretrained networks ResLens can download, from where, and how to verify
// and feed them. The data lives in models/catalog.json; this module validates it and answers lookups.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { findPackageFile } from './package-files.js';
import { MODEL_NAME_PATTERN } from '../core/vocabulary.js';

export { findPackageFile } from './package-files.js';

export const PreprocessingSchema = z.object({
  /** Shorter side after resizing, before the centre crop. */
  resizeShorter: z.number().int().positive(),
  /** Side of the square centre crop fed to the network. */
  crop: z.number().int().positive(),
  /** Per-channel mean and standard deviation, RGB, on values scaled to [0, 1]. */
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  layout: z.enum(['NCHW', 'NHWC']),
});
export type Preprocessing = z.infer<typeof PreprocessingSchema>;

/** torchvision's ImageNet pipeline: resize 256, centre crop 224, ImageNet mean/std, NCHW. */
export const TORCHVISION_PREPROCESSING: Readonly<Preprocessing> = Object.freeze<Preprocessing>({
  resizeShorter: 256,
  crop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'NCHW',
});

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
function isAllowedUrl(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname));
}

const NAME_PATTERN = MODEL_NAME_PATTERN;
const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');
const ShapeSchema = z.array(z.union([z.number().int(), z.string()]));

export const CatalogEntrySchema = z.object({
  /** Short, unique CLI name, e.g. `resnet50-v1`. */
  name: z.string().regex(NAME_PATTERN, 'name must be lowercase letters, digits, ".", "_" or "-"'),
  /** Other names that select this entry, e.g. `resnet50`. */
  aliases: z.array(z.string().regex(NAME_PATTERN)).default([]),
  title: z.string().min(1),
  architecture: z.enum(['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']),
  variant: z.string().min(1),
  /** https; plain http only to this machine (tests, local mirrors). */
  url: z.url({ protocol: /^https?$/, error: 'url must be an https URL' }).refine(isAllowedUrl, 'url must be an https URL (http only for localhost)'),
  bytes: z.number().int().positive(),
  sha256: Sha256Schema,
  /** Overrides of the catalog defaults, field by field. */
  preprocessing: PreprocessingSchema.partial().optional(),
  labels: z.literal('imagenet1k').default('imagenet1k'),
  classes: z.number().int().positive(),
  opset: z.number().int().positive().optional(),
  input: z.object({ name: z.string().min(1), shape: ShapeSchema.optional() }),
  output: z.object({ name: z.string().min(1), shape: ShapeSchema.optional() }).optional(),
  accuracy: z.object({ top1: z.number(), top5: z.number() }).optional(),
  license: z.string().min(1),
  source: z.object({
    repo: z.string().min(1),
    path: z.string().min(1),
    origin: z.string().optional(),
    /** Where the size and SHA-256 were taken from. */
    checksum: z.string().optional(),
  }),
});
export type CatalogEntry = z.infer<typeof CatalogEntrySchema>;

export const CatalogSchema = z
  .object({
    version: z.literal(1),
    defaults: z.object({ preprocessing: PreprocessingSchema, labels: z.literal('imagenet1k').default('imagenet1k') }).default({
      preprocessing: { ...TORCHVISION_PREPROCESSING, mean: [...TORCHVISION_PREPROCESSING.mean], std: [...TORCHVISION_PREPROCESSING.std] },
      labels: 'imagenet1k',
    }),
    models: z.array(CatalogEntrySchema),
  })
  .superRefine((catalog, ctx) => {
    const seen = new Map<string, string>();
    for (const entry of catalog.models) {
      for (const key of [entry.name, ...entry.aliases]) {
        const owner = seen.get(key);
        if (owner !== undefined) {
          ctx.addIssue({ code: 'custom', message: `name "${key}" of ${entry.name} is already used by ${owner}`, path: ['models'] });
        }
        seen.set(key, entry.name);
      }
    }
  });
export type Catalog = z.infer<typeof CatalogSchema>;

/** Validates catalog data; throws INVALID_ARGUMENT naming every problem. */
export function parseCatalog(data: unknown, origin = 'catalog'): Catalog {
  const result = CatalogSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `invalid model catalog ${origin}: ${problems}`, { item: origin });
  }
  return result.data;
}

const cache = new Map<string, Catalog>();

/**
 * Reads and validates the catalog: the given file, else $RESLENS_CATALOG (a mirror or a test catalog),
 * else the shipped models/catalog.json. Cached per file.
 */
export function loadCatalogSync(file?: string, env: NodeJS.ProcessEnv = process.env): Catalog {
  const fromEnv = env.RESLENS_CATALOG?.trim() ? path.resolve(env.RESLENS_CATALOG.trim()) : undefined;
  const resolved = file ?? fromEnv ?? findPackageFile(path.join('models', 'catalog.json'));
  const cached = cache.get(resolved);
  if (cached) return cached;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(resolved, 'utf8'));
  } catch (error) {
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `cannot read model catalog ${resolved}: ${(error as Error).message}`, { item: resolved, cause: error });
  }
  const catalog = parseCatalog(data, resolved);
  cache.set(resolved, catalog);
  return catalog;
}

export async function loadCatalog(file?: string): Promise<Catalog> {
  return loadCatalogSync(file);
}

/** The entry whose name or alias is `name` (case-insensitive). */
export function findCatalogEntry(catalog: Catalog, name: string): CatalogEntry | undefined {
  const key = name.trim().toLowerCase();
  return catalog.models.find((entry) => entry.name === key || entry.aliases.includes(key));
}

/** Catalog defaults with the entry's overrides applied. */
export function preprocessingOf(catalog: Catalog, entry: CatalogEntry): Preprocessing {
  return { ...catalog.defaults.preprocessing, ...(entry.preprocessing ?? {}) } as Preprocessing;
}

/** Every name and alias, for "did you mean" style messages. */
export function catalogNames(catalog: Catalog): string[] {
  return catalog.models.flatMap((entry) => [entry.name, ...entry.aliases]);
}
