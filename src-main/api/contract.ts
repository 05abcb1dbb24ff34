// The one contract between the UI and the engine, whatever carries it (Electron IPC through the
// preload, or a WebSocket in browser mode). Every request is declared once here with the runtime
// schema of its parameters; hosts validate with these schemas before anything reaches the engine.
// The renderer imports this module for types only.
//
// Files never travel as paths from the UI: the host hands out opaque ids for files the user chose
// (native dialog, drop, or upload), and only those ids are accepted.
import { z } from 'zod';
import {
  COLORMAPS,
  EP_NAMES,
  ERROR_CODES,
  type ErrorCode,
  type ErrorHint,
  EXPLAIN_METHODS,
  HEATMAP_MODES,
  MAX_EXPLAIN_CLASSES,
  MODEL_NAME_PATTERN,
  STAGE_NAMES,
} from '../engine/core/vocabulary.js';
import type { ReceptiveFieldValue } from './receptive-field.js';

/** Longest request payload a host accepts (bytes of the serialised message). */
export const MAX_REQUEST_BYTES = 64 * 1024;

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_-]{8,64}$`), `expected a ${prefix}_… id issued by the host`);
export const ImageIdSchema = id('img');
export const FolderIdSchema = id('dir');
export const BatchIdSchema = id('batch');
export const StudyIdSchema = id('study');
/** A residual block id as torchvision names it (`layer3.1`); whether the model has it is checked by the engine. */
export const BlockIdSchema = z.string().regex(/^layer[1-4]\.\d{1,3}$/, 'expected a block id such as layer3.1');
export const ModelNameSchema = z.string().regex(MODEL_NAME_PATTERN, 'expected a model name from models.list');
export const EpSchema = z.enum(EP_NAMES);
export const StageNameSchema = z.enum(STAGE_NAMES);
export const HeatmapModeSchema = z.enum(HEATMAP_MODES);
export const ErrorCodeSchema = z.enum(ERROR_CODES);
export const ExportFormatSchema = z.enum(['csv', 'json', 'jsonl']);

export type ImageId = z.infer<typeof ImageIdSchema>;
export type FolderId = z.infer<typeof FolderIdSchema>;
export type BatchId = z.infer<typeof BatchIdSchema>;
export type StudyId = z.infer<typeof StudyIdSchema>;
export type StageName = z.infer<typeof StageNameSchema>;
export type HeatmapMode = z.infer<typeof HeatmapModeSchema>;
export type EpRequest = z.infer<typeof EpSchema>;

// ---------------------------------------------------------------------------------------------
// Plain data returned to the UI. Big arrays are typed arrays (structured clone / binary frames).

export interface ErrorValue {
  code: ErrorCode;
  message: string;
  /** What the user can do about it, as data: the app words it as a button or a sentence. */
  hint?: ErrorHint;
}

/**
 * An organise (or its preview, a dry run): the engine's summary — the same numbers `reslens batch
 * --organize --json` reports — with the files per class folder and every failed placement.
 */
export interface OrganizeValue {
  copied: number;
  linked: number;
  planned: number;
  already: number;
  errors: number;
  /** Files per class folder (and `_uncertain`): planned in a preview, placed otherwise. */
  folders: Record<string, number>;
  /** Photos that could not be classified: never organised. */
  unclassified: number;
  failures: { path: string; folder: string; error: ErrorValue }[];
  destination: string;
}

export interface ClassScore {
  index: number;
  label: string;
  prob: number;
}

export interface ProviderAttempt {
  ep: string;
  ok: boolean;
  reason?: string;
}

export interface ModelEntry {
  name: string;
  title: string;
  source: 'catalog' | 'imported';
  installed: boolean;
  bytes: number | null;
  architecture?: string;
  variant?: string;
}

export interface ArchitectureRowValue {
  stage: string;
  paperName: string;
  outputSize: string;
  channels: number;
  blocks: number;
  pattern: string;
  layers: number;
  params: number;
  macs: number;
  /** Side of the stage's receptive field in input pixels, and what such stages usually respond to (issue 15). */
  receptiveField?: number;
  note?: string;
}

export interface ArchitectureValue {
  name: string;
  rows: ArchitectureRowValue[];
  head: { pattern: string; params: number; macs: number };
  totalLayers: number;
  layerCount: string;
  totalMacs: number;
  totalParams: number;
  /** Every residual block in forward order (issue 11: the Model view's block strip before a photo runs). */
  blocks?: ArchitectureBlockValue[];
}

/** A block's place in the network, from the stage table; its norms need a photo (`blocks.get`). */
export interface ArchitectureBlockValue {
  id: string;
  stage: string;
  index: number;
  downsample: boolean;
  stride: number;
}

/** fp32, or int8: the quantised copy `reslens quantize` made (engine/quantize). */
export const PrecisionSchema = z.enum(['fp32', 'int8']);
export type PrecisionValue = z.infer<typeof PrecisionSchema>;

/** The int8 copy of the loaded model, and how closely it follows fp32 on held-back photos. */
export interface Int8CopyValue {
  calibrationImages: number;
  /** Where the calibration photos came from ("40 photos from /photos", "the first 50 photos of the batch on …"); null for copies made before it was recorded. */
  calibrationSource?: string | null;
  /** SHA-256 over the calibration photos' own SHA-256s: the same set gives the same hash. */
  calibrationSha256?: string;
  /** The engine's one wording of it, for people: "8 of the photos in /photos", "8 photos (source not recorded)". */
  calibration?: string;
  method: string;
  heldBack: number;
  top1Agreement: number;
  top5Overlap: number;
  meanKl: number;
}

export interface EngineStatus {
  /** Null until a model is loaded. */
  model: null | {
    name: string;
    title: string;
    /** False for imported files: the UI must not present them as ImageNet-trained. */
    pretrained: boolean;
    /** Facts to show beside the model, the same the CLI prints as `note:` lines (ImageNet names on a non-catalog model). */
    notes?: string[];
    classes: number;
    params: number;
    macs: number;
    ep: string;
    /** "CPU · 2 threads" or "GPU · CUDA · NVIDIA H100"; with the fallback reason when auto skipped a GPU. */
    epLabel: string;
    epAttempts: ProviderAttempt[];
    threads: number;
    featuresAvailable: boolean;
    featuresError?: string;
    architecture?: ArchitectureValue;
    /** Absent means fp32. */
    precision?: PrecisionValue;
    /** The model's int8 copy, when one exists in the store (null: none yet). */
    int8?: Int8CopyValue | null;
  };
  versions: Record<string, string>;
  /** Set when the engine process restarted after a crash: what happened, for the status bar. */
  notice?: string;
  /** Set when a batch queue (Redis) is configured: batches may run on `reslens worker` processes. */
  queue?: { url: string };
}

export interface ImageResult {
  image: ImageId;
  name: string;
  result: { top: ClassScore[]; ep: string; ms: number; precision?: 'int8'; timings?: ClassifyTimingsValue } | { error: ErrorValue };
}

/** Where an image's time went (the card shows them apart): waiting in line for the model, decoding, inference. */
export interface ClassifyTimingsValue {
  /** Waiting for the model (a batch's run in progress) after the request arrived. */
  waitMs: number;
  /** Reading, decoding and resizing the photo. */
  decodeMs: number;
  /** This image's share of its inference run. */
  inferenceMs: number;
}

export interface HeatmapValue {
  width: number;
  height: number;
  /** Row-major, normalised to [0, 1]. */
  data: Float32Array;
  /** Maps (issue 15): the values before normalisation spanned [min, max] (0 → min, 1 → max). */
  min?: number;
  max?: number;
}

export interface StageFeaturesValue {
  name: StageName;
  paperName: string;
  shape: [number, number, number];
  blocks: number;
  /** min and std only where computed from the full stage tensors (the feature view's fast path has neither). */
  stats: { max: number; mean: number; zeroFraction: number; min?: number; std?: number };
  heatmap: HeatmapValue;
  topChannels: { channel: number; meanActivation: number; map: HeatmapValue }[];
  // Maps (issue 15): explain in place, the channel grid.
  /** What one position of this stage's map sees of the input (from the engine's kernel/stride chain). */
  receptiveField?: ReceptiveFieldValue;
  /** What such stages usually respond to (engine/model/stage-notes.ts). */
  note?: string;
  /** Every channel's spatial mean, in channel order. */
  channelMeans?: Float32Array;
}

export interface FeaturesValue {
  image: ImageId;
  top: ClassScore[];
  ep: string;
  ms: number;
  /** The centre crop the network saw, as a JPEG, for drawing heatmaps over. */
  crop: { jpeg: Uint8Array; width: number; height: number };
  stages: StageFeaturesValue[];
  cams: (ClassScore & { logit: number; map: HeatmapValue })[];
}

export interface BatchSummary {
  batch: BatchId;
  folder: string;
  state: 'running' | 'paused' | 'done' | 'cancelled' | 'failed';
  /** Images with a result so far, classified or failed. */
  done: number;
  /** Of `done`, how many failed (each has its error in its row). */
  failed: number;
  /** Null while the walk is still counting. */
  total: number | null;
  imagesPerSecond: number;
  /** Null until the rate has settled (a smoothed rate, engine/batch/eta.ts), and while paused. */
  etaSeconds: number | null;
  /** Paused was asked, and the inference batch in flight is still finishing: its results still arrive (the UI says "Pausing…"). */
  pausing?: boolean;
  /** Queue runs ("Run on workers"): each worker's share so far. */
  workers?: WorkerRateValue[];
}

/** One worker of a queue run: its results so far and its recent rate. */
export interface WorkerRateValue {
  /** host:pid */
  worker: string;
  done: number;
  failed: number;
  imagesPerSecond: number;
  /** Seconds since its last result. */
  idleSeconds: number;
}

export interface BatchRow {
  path: string;
  top?: ClassScore[];
  ep?: string;
  ms?: number;
  error?: ErrorValue;
  /** Queue runs: the worker (host:pid) that classified the image. */
  worker?: string;
}

export interface FolderEntry {
  folder: FolderId;
  name: string;
  path: string;
}

/** Browser mode's folder picker: one folder's subfolders on the serving machine. */
export interface FolderListing {
  current: FolderEntry;
  parent: FolderEntry | null;
  folders: FolderEntry[];
  /** Files directly inside `current` whose extension looks like an image (a hint; the engine sniffs content). */
  imageFiles: number;
  /** True when the listing was cut at the server's entry limit. */
  truncated: boolean;
}

// Explanations (issue 10): class-specific maps at every stage and at the input.
export const ExplainMethodSchema = z.enum(EXPLAIN_METHODS);
export type ExplainMethodName = z.infer<typeof ExplainMethodSchema>;

export interface FaithfulnessValue {
  fractions: number[];
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

export interface ClassExplanationValue extends ClassScore {
  /** The model's output for the class (the logit for the catalog models). */
  score: number;
  /** Per stage, each asked stage method's map (normalised), at the stage's resolution. */
  stages: { name: StageName; paperName: string; shape: [number, number, number]; maps: Partial<Record<ExplainMethodName, HeatmapValue>> }[];
  /** Input-resolution methods' maps (normalised). */
  input: Partial<Record<ExplainMethodName, HeatmapValue>>;
  /** Deletion/insertion curves per method (stage methods: of their conv5_x map). */
  faithfulness?: Partial<Record<ExplainMethodName, FaithfulnessValue>>;
}

export interface ExplainValue {
  image: ImageId;
  ep: string;
  ms: number;
  /** The image's top-5, for the class picker. */
  top: ClassScore[];
  crop: { jpeg: Uint8Array; width: number; height: number };
  methods: ExplainMethodName[];
  classes: ClassExplanationValue[];
  /** True when no gradient run was needed: every map came from the engine's cache of this image's runs. */
  fromCache?: boolean;
}

/** A multi-run method's progress (integrated gradients: path points; SmoothGrad: noisy samples). */
export interface ExplainProgressValue {
  image: ImageId;
  method: 'integrated-gradients' | 'smoothgrad';
  /** The class being explained. */
  index: number;
  done: number;
  total: number;
}

// --- Residual blocks (issue 11): the block strip, live lesions, lesion studies -------------------

export interface BlockValue {
  id: string;
  stage: string;
  index: number;
  /** A projection shortcut (torchvision's `downsample`). */
  downsample: boolean;
  /** 2 where the block halves the resolution. */
  stride: number;
  inputNorm: number;
  residualNorm: number;
  shortcutNorm: number;
  outputNorm: number;
  /** The scale its residual branch ran with (1 = as trained, 0 = removed). */
  scale: number;
  /** Channel means of F(x) (as scaled) and of the block output, normalised to [0, 1]. */
  residualMap: HeatmapValue;
  outputMap: HeatmapValue;
}

export interface BlocksValue {
  image: ImageId;
  model: string;
  ep: string;
  ms: number;
  blocks: BlockValue[];
  /** Top-5 of the network as run (with the lesions) and of the intact network. */
  top: ClassScore[];
  intactTop: ClassScore[];
  /** The intact top-1 under the lesions: its probability and its rank (1 = still first). */
  intactTop1: { index: number; label: string; intactProb: number; prob: number; rank: number };
}

export interface LesionRowValue {
  block: string;
  stage: string;
  index: number;
  downsample: boolean;
  stride: number;
  images: number;
  agreement: number;
  meanProbDrop: number;
}

export interface LesionStudyValue {
  study: StudyId;
  folder: string;
  state: 'running' | 'paused' | 'done' | 'cancelled' | 'failed';
  blocks: string[];
  inferencesPerImage: number;
  done: number;
  failed: number;
  total: number | null;
  imagesPerSecond: number;
  etaSeconds: number | null;
  rows: LesionRowValue[];
  error?: ErrorValue;
}

// ---------------------------------------------------------------------------------------------
// Requests: name → parameter schema and result type.

/** Channel maps per features.channels request (one page of the channel grid). */
export const MAX_CHANNEL_PAGE = 64;

const strict = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

export const RequestSchemas = {
  'engine.status': strict({}),
  'engine.doctor': strict({}),
  'models.list': strict({}),
  'models.select': strict({ name: ModelNameSchema, ep: EpSchema.optional(), precision: PrecisionSchema.optional() }),
  'images.classify': strict({ images: z.array(ImageIdSchema).min(1).max(256), top: z.number().int().min(1).max(20).optional() }),
  'images.thumbnail': strict({ image: ImageIdSchema, size: z.number().int().min(32).max(1024) }),
  'features.get': strict({
    image: ImageIdSchema,
    mode: HeatmapModeSchema.optional(),
    channels: z.number().int().min(1).max(32).optional(),
    classes: z.number().int().min(1).max(10).optional(),
    /** Compare (issue 15): a second model's view of the same photo; the engine holds at most 2 models. */
    model: ModelNameSchema.optional(),
  }),
  'features.channel': strict({ image: ImageIdSchema, stage: StageNameSchema, channel: z.number().int().min(0).max(8191) }),
  'explain.get': strict({
    image: ImageIdSchema,
    classes: z.array(z.number().int().min(0).max(99_999)).min(1).max(MAX_EXPLAIN_CLASSES).optional(),
    methods: z.array(ExplainMethodSchema).min(1).max(EXPLAIN_METHODS.length).optional(),
    faithfulness: z.boolean().optional(),
  }),
  'explain.labels': strict({}),
  /** Stops the explanation of `image` in progress (its multi-run methods stop between batches: CANCELLED). */
  'explain.cancel': strict({ image: ImageIdSchema }),
  // Maps (issue 15): a page of the channel grid (channels of the feature view's image), the HTML report.
  'features.channels': strict({
    image: ImageIdSchema,
    stage: StageNameSchema,
    channels: z.array(z.number().int().min(0).max(8191)).min(1).max(MAX_CHANNEL_PAGE),
  }),
  'features.report': strict({ image: ImageIdSchema, colormap: z.enum(COLORMAPS).optional() }),
  'batch.start': strict({
    folder: FolderIdSchema,
    top: z.number().int().min(1).max(20).optional(),
    exact: z.boolean().optional(),
    workers: z.boolean().optional(),
  }),
  'batch.control': strict({ batch: BatchIdSchema, action: z.enum(['pause', 'resume', 'cancel']) }),
  'batch.rows': strict({ batch: BatchIdSchema, offset: z.number().int().min(0), limit: z.number().int().min(1).max(5000) }),
  'batch.export': strict({ batch: BatchIdSchema, format: ExportFormatSchema }),
  'batch.organize': strict({
    batch: BatchIdSchema,
    destination: FolderIdSchema,
    minProb: z.number().min(0).max(1),
    mode: z.enum(['copy', 'link']),
    dryRun: z.boolean(),
  }),
  // Hardening (issue 14): a reloaded page finds the runs it started.
  'batch.list': strict({}),
  // Residual blocks (issue 11). Scales: the app's slider goes 0–2×; 0 removes a block's branch.
  'blocks.get': strict({
    image: ImageIdSchema,
    scales: z
      .record(BlockIdSchema, z.number().min(0).max(2))
      .refine((r) => Object.keys(r).length <= 64, 'at most 64 blocks')
      .optional(),
  }),
  /** The feature view's stages, channels and CAMs of the network with these blocks scaled (the crop stays the intact view's). */
  'blocks.features': strict({
    image: ImageIdSchema,
    scales: z.record(BlockIdSchema, z.number().min(0).max(2)).refine((r) => Object.keys(r).length <= 64, 'at most 64 blocks'),
    mode: HeatmapModeSchema.optional(),
    channels: z.number().int().min(1).max(32).optional(),
    classes: z.number().int().min(1).max(10).optional(),
  }),
  'lesion.start': strict({ folder: FolderIdSchema, blocks: z.array(BlockIdSchema).min(1).max(64).optional(), exact: z.boolean().optional() }),
  'lesion.control': strict({ study: StudyIdSchema, action: z.enum(['pause', 'resume', 'cancel']) }),
  'lesion.export': strict({ study: StudyIdSchema, format: z.enum(['csv', 'json']) }),
  // Gallery and sessions (issue 15): kept runs, reopened, resumed; results reached by run and row only.
  'sessions.list': strict({}),
  'sessions.open': strict({ batch: BatchIdSchema }),
  'sessions.forget': strict({ batch: BatchIdSchema }),
  'batch.resume': strict({ batch: BatchIdSchema, retryFailed: z.boolean() }),
  'results.thumbnail': strict({ batch: BatchIdSchema, index: z.number().int().min(0).max(10_000_000), size: z.number().int().min(32).max(512) }),
  /** An image id for a result's photo, for the feature view and explanations (issued by the engine, never a path). */
  'results.open': strict({ batch: BatchIdSchema, index: z.number().int().min(0).max(10_000_000) }),
  /** The Images session's cards as kept in the data folder (a reload or restart shows them again). */
  'sessions.images': strict({}),
  /** Clear: forgets these cards' photos (by image id), or every card. */
  'sessions.clearImages': strict({ images: z.array(ImageIdSchema).max(10_000).optional() }),
} as const;

export type RequestName = keyof typeof RequestSchemas;
export type RequestParams<N extends RequestName> = z.infer<(typeof RequestSchemas)[N]>;

/** `reslens doctor` as data, for the About panel: providers, what loaded or failed and why, hardware, versions. */
export interface DoctorValue {
  backend: string;
  providers: { ep: string; title: string; ok: boolean; status?: string; reason?: string; bundled: boolean; inAuto: boolean }[];
  autoOrder: string[];
  cpu: { model: string; threads: number };
  gpus: { name: string }[];
  versions: Record<string, string | undefined>;
}

export interface RequestResults {
  'engine.status': EngineStatus;
  'engine.doctor': DoctorValue;
  'models.list': ModelEntry[];
  'models.select': EngineStatus;
  'images.classify': ImageResult[];
  'images.thumbnail': { jpeg: Uint8Array; width: number; height: number };
  'features.get': FeaturesValue;
  'features.channel': HeatmapValue;
  'explain.get': ExplainValue;
  /** Every class name of the loaded model, in output order (the class picker's search). */
  'explain.labels': { labels: string[] };
  'explain.cancel': { cancelled: boolean };
  'features.channels': HeatmapValue[];
  /** One self-contained HTML file (UTF-8). */
  'features.report': { fileName: string; data: Uint8Array };
  'batch.start': BatchSummary;
  'batch.control': BatchSummary;
  'batch.rows': { rows: BatchRow[]; total: number };
  'batch.export': { fileName: string; data: Uint8Array };
  'batch.organize': OrganizeValue;
  'batch.list': BatchSummary[];
  'blocks.get': BlocksValue;
  'blocks.features': Omit<FeaturesValue, 'crop'>;
  'lesion.start': LesionStudyValue;
  'lesion.control': LesionStudyValue;
  'lesion.export': { fileName: string; data: Uint8Array };
  'sessions.list': SessionListValue;
  'sessions.open': BatchSummary;
  'sessions.forget': { forgotten: boolean };
  'batch.resume': BatchSummary;
  'results.thumbnail': { jpeg: Uint8Array; width: number; height: number };
  'results.open': { image: ImageId; name: string };
  'sessions.images': { cards: KeptImageValue[]; notice: string | null };
  'sessions.clearImages': { cleared: number };
}

/** A card of the Images session as kept: its result, and an image id while the photo is still there. */
export interface KeptImageValue {
  /** Null when the photo is gone (moved, deleted, or an upload of a previous server run). */
  image: ImageId | null;
  name: string;
  model: string;
  at: string;
  result: { top: ClassScore[]; ep: string; ms: number } | { error: ErrorValue };
}

/** A kept batch run in the History list. */
export interface SessionValue {
  batch: BatchId;
  folder: string;
  created: string;
  updated: string;
  model: string;
  top: number;
  mode: 'fast' | 'exact';
  state: BatchSummary['state'];
  done: number;
  failed: number;
  total: number | null;
  /** Still running on this host. */
  live: boolean;
}

export interface SessionListValue {
  sessions: SessionValue[];
  /** Set when the index file was damaged (and set aside) or unreadable: shown to the user. */
  notice: string | null;
}

// ---------------------------------------------------------------------------------------------
// Events pushed from the engine to the UI.

export interface EngineEvents {
  'model.progress': { name: string; phase: 'download' | 'load'; received?: number; total?: number | null };
  'engine.status': EngineStatus;
  'batch.progress': BatchSummary;
  /** Results as they are produced (small groups, in order). */
  'batch.rows': { batch: BatchId; offset: number; rows: BatchRow[] };
  /** A lesion study's progress and its table so far. */
  'lesion.progress': LesionStudyValue;
  /** Integrated gradients' and SmoothGrad's runs as they complete. */
  'explain.progress': ExplainProgressValue;
}
export type EventName = keyof EngineEvents;

// ---------------------------------------------------------------------------------------------
// The wire envelope (both transports).

export type ClientMessage = { kind: 'request'; id: number; method: RequestName; params: unknown };
export type ServerMessage =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: ErrorValue }
  | { kind: 'event'; event: EventName; payload: unknown };

export const ClientMessageSchema = strict({
  kind: z.literal('request'),
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.enum(Object.keys(RequestSchemas) as [RequestName, ...RequestName[]]),
  params: z.unknown(),
});

/** Validation outcome for one incoming message: parsed params, or a VALIDATION error value. */
export function validateRequest(
  message: unknown,
): { ok: true; id: number; method: RequestName; params: RequestParams<RequestName> } | { ok: false; id: number | null; error: ErrorValue } {
  const envelope = ClientMessageSchema.safeParse(message);
  if (!envelope.success) {
    const maybeId = typeof (message as { id?: unknown })?.id === 'number' ? (message as { id: number }).id : null;
    return { ok: false, id: maybeId, error: { code: 'INVALID_REQUEST', message: z.prettifyError(envelope.error) } };
  }
  const { id, method, params } = envelope.data;
  const parsed = RequestSchemas[method].safeParse(params ?? {});
  if (!parsed.success) return { ok: false, id, error: { code: 'INVALID_REQUEST', message: `${method}: ${z.prettifyError(parsed.error)}` } };
  return { ok: true, id, method, params: parsed.data };
}

/** What a UI sees: a typed call per request and a subscription per event. */
export interface ReslensApi {
  call<N extends RequestName>(method: N, params: RequestParams<N>): Promise<RequestResults[N]>;
  on<E extends EventName>(event: E, listener: (payload: EngineEvents[E]) => void): () => void;
}

/** Host services the UI needs beyond the engine (they differ between Electron and the browser). */
export interface HostApi {
  kind: 'electron' | 'browser';
  /** Files dropped on the window or chosen in a file input → ids (Electron: paths via the preload; browser: uploads). */
  addFiles(files: File[]): Promise<{ image: ImageId; name: string }[]>;
  /** A folder for batch mode (Electron: native dialog; browser: a folder on the serving machine). */
  pickFolder(): Promise<FolderEntry | null>;
  /** Saves bytes the user exported (Electron: save dialog; browser: download). */
  saveFile(fileName: string, data: Uint8Array): Promise<void>;
  /** The page no longer shows these images (browser: their uploads are deleted on the server; Electron: nothing to free). */
  releaseImages?(images: ImageId[]): void;
  /**
   * Desktop app only: shows a batch result's photo in the system file manager. The renderer names the
   * result (run and row), never a path: main looks the path up in the engine's rows. Absent in the browser.
   */
  showResult?(batch: BatchId, index: number): Promise<void>;
  /** Commands from the desktop app's native menus (Electron only; absent in the browser). Returns an unsubscribe function. */
  onCommand?(listener: (command: HostCommand) => void): () => void;
}

/** What the desktop app's native menus ask the UI to do (Electron: main → renderer). */
export type HostCommand =
  /** File ▸ Open Images…: files the user chose, already granted. */
  | { kind: 'images.added'; images: { image: ImageId; name: string }[] }
  /** File ▸ Open Folder for Batch…: a folder the user chose, already granted. */
  | { kind: 'folder.picked'; folder: FolderEntry }
  /** File ▸ Export Results…: the UI exports what it shows (batch.export, then host.saveFile). */
  | { kind: 'export' }
  /** View ▸ Toggle Theme: the theme now in effect (the window's prefers-color-scheme follows it too). */
  | { kind: 'theme'; theme: 'light' | 'dark' };
