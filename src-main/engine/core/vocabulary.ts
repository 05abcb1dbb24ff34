// The engine's vocabulary: every list of names that more than one place spells out (the engine,
// the contract and so the renderer, the CLI's option parsers), once. Pure data and types, no
// imports: the contract (bundled into the renderer) imports this module and nothing else of the
// engine (a lint rule in eslint.layers.js holds it to that).

// ---- explanation methods ----
/** Methods computed at every stage (maps at the stage's own resolution). */
export const STAGE_METHODS = ['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam'] as const;
/** Methods computed at the input's resolution. */
export const INPUT_METHODS = ['saliency', 'guided-backprop', 'guided-gradcam', 'integrated-gradients', 'smoothgrad'] as const;
export const EXPLAIN_METHODS = [...STAGE_METHODS, ...INPUT_METHODS] as const;
export type StageMethod = (typeof STAGE_METHODS)[number];
export type InputMethod = (typeof INPUT_METHODS)[number];
export type ExplainMethod = (typeof EXPLAIN_METHODS)[number];
/** Most classes one explanation may hold (each is a backward row of the same run). */
export const MAX_EXPLAIN_CLASSES = 8;

// ---- execution providers ----
/** What a user may ask for (`auto` tries the platform's order, see infer/providers.ts). */
export const EP_NAMES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type EpRequest = (typeof EP_NAMES)[number];
export type Ep = Exclude<EpRequest, 'auto'>;

// ---- ResNet stages (torchvision names; the paper's names beside them) ----
export const STAGE_NAMES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
export const PAPER_NAMES: Record<StageName, string> = { stem: 'conv1', layer1: 'conv2_x', layer2: 'conv3_x', layer3: 'conv4_x', layer4: 'conv5_x' };

// ---- stage heatmaps ----
/** How a stage's map reduces its channels at each position: their mean or their maximum. */
export const HEATMAP_MODES = ['mean', 'max'] as const;
export type HeatmapMode = (typeof HEATMAP_MODES)[number];

// ---- model names ----
/** A model's name in the store (and so in the catalog and the contract): no path can hide in it. */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

// ---- colour maps ----
/**
 * The colour maps heatmaps can be drawn with. `gray` is the app's name; `greys` (the CLI's name
 * before the two were merged, and the colormap package's) is accepted as an alias.
 */
export const COLORMAPS = ['viridis', 'inferno', 'magma', 'plasma', 'jet', 'gray'] as const;
export type ColormapName = (typeof COLORMAPS)[number];
export const COLORMAP_ALIASES: Readonly<Record<string, ColormapName>> = { greys: 'gray', grey: 'gray' };
/** A colour map's name (or an alias of one) → its name; undefined when it is neither. */
export function colormapNamed(name: string): ColormapName | undefined {
  const lower = name.toLowerCase();
  if ((COLORMAPS as readonly string[]).includes(lower)) return lower as ColormapName;
  return COLORMAP_ALIASES[lower];
}

// ---- defaults shared by the CLI and the app ----
/** How much of a heatmap overlay covers the photo (0 = photo only, 1 = heatmap only). */
export const DEFAULT_OVERLAY_OPACITY = 0.55;
/** How many of a stage's channels are ranked and returned (most active first). */
export const DEFAULT_RANKED_CHANNELS = 8;

// ---- error codes ----
/**
 * Every code an error value can carry, engine and hosts alike: one list, so a renderer, a script
 * reading `--json` and the tests agree on what a code means.
 */
export const ErrorCode = {
  // files and images: the item's own fault (see FILE_ERROR_CODES)
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  READ_FAILED: 'READ_FAILED',
  EMPTY_FILE: 'EMPTY_FILE',
  NOT_AN_IMAGE: 'NOT_AN_IMAGE',
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  DECODE_FAILED: 'DECODE_FAILED',
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  SYMLINK_LOOP: 'SYMLINK_LOOP',
  /** A FIFO, device, socket or folder where a regular file was expected (reading it could hang or never end). */
  NOT_A_FILE: 'NOT_A_FILE',
  /** An upload over the host's per-file limit (browser mode). */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** An upload that did not arrive whole (browser mode). */
  UPLOAD_FAILED: 'UPLOAD_FAILED',
  // models
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  INVALID_MODEL: 'INVALID_MODEL',
  UNSUPPORTED_MODEL: 'UNSUPPORTED_MODEL',
  DOWNLOAD_FAILED: 'DOWNLOAD_FAILED',
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  LABELS_INVALID: 'LABELS_INVALID',
  // inference
  EP_UNAVAILABLE: 'EP_UNAVAILABLE',
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  // distributed batch (queue)
  QUEUE_UNAVAILABLE: 'QUEUE_UNAVAILABLE',
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  PATH_NOT_ALLOWED: 'PATH_NOT_ALLOWED',
  WORKER_FAILED: 'WORKER_FAILED',
  // explanations: the model uses an operator whose backward pass ResLens cannot build
  GRADIENTS_UNSUPPORTED: 'GRADIENTS_UNSUPPORTED',
  // generic
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  CANCELLED: 'CANCELLED',
  /** The host's storage quota (browser-mode uploads) is used up. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** Another live run holds the batch journal's lock. */
  JOURNAL_LOCKED: 'JOURNAL_LOCKED',
  /** More batches at once than the host allows. */
  BUSY: 'BUSY',
  /** A request this build or host does not offer (the UI hides the feature instead of failing). */
  NOT_AVAILABLE: 'NOT_AVAILABLE',
  // hosts: the transport and the process around the engine
  /** The message failed the contract's schema, size limit, or the channel's argument rules. */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** A request over the host's size limit. */
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  /** An id that this host never issued (or issued for another kind of thing). */
  NOT_GRANTED: 'NOT_GRANTED',
  /** The message did not come from the app's own page. */
  FORBIDDEN: 'FORBIDDEN',
  /** Browser mode: no valid token. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Browser mode: an HTTP request answered with another error status. */
  HTTP_ERROR: 'HTTP_ERROR',
  /** Browser mode: the connection to the server dropped. */
  DISCONNECTED: 'DISCONNECTED',
  /** No answer within the request's time limit: the engine is gone or stuck (the page's transports). */
  TIMEOUT: 'TIMEOUT',
  /** A kept result from an earlier session whose photo is no longer open (the card keeps its result). */
  NOT_OPEN: 'NOT_OPEN',
  /** The engine process died while working on the request; it has been restarted. */
  ENGINE_CRASHED: 'ENGINE_CRASHED',
  /** The engine process kept crashing and is no longer restarted. */
  ENGINE_UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  /** Writing an exported file failed. */
  WRITE_FAILED: 'WRITE_FAILED',
  /** A bug: anything else that was thrown. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
export const ERROR_CODES = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

/** Codes that mean "this file is the problem", not the model or the engine: retrying it elsewhere will not help. */
export const FILE_ERROR_CODES: readonly ErrorCode[] = [
  ErrorCode.FILE_NOT_FOUND,
  ErrorCode.READ_FAILED,
  ErrorCode.EMPTY_FILE,
  ErrorCode.NOT_AN_IMAGE,
  ErrorCode.UNSUPPORTED_FORMAT,
  ErrorCode.DECODE_FAILED,
  ErrorCode.IMAGE_TOO_LARGE,
  ErrorCode.SYMLINK_LOOP,
  ErrorCode.NOT_A_FILE,
  ErrorCode.FILE_TOO_LARGE,
  ErrorCode.UPLOAD_FAILED,
];
export function isFileError(code: string): boolean {
  return (FILE_ERROR_CODES as readonly string[]).includes(code);
}
/** Any string as an error code: a code from another version or a bug becomes INTERNAL. */
export function errorCodeOf(code: string): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : ErrorCode.INTERNAL;
}

// ---- what the user can do about an error ----
/**
 * The way out of an error, as data: each host says it in its own words (a CLI flag, a button), so
 * engine messages state facts only and never name a CLI flag the desktop app's users cannot type.
 *   resume  — an unfinished run is recorded: continue it (CLI --resume; the app's Resume)
 *   restart — start the run over, replacing what is recorded (CLI --restart; the app's Start over)
 *   import  — bring a model file in by hand (CLI `reslens models import FILE --name NAME`; the app's Import)
 *   pull    — download a catalog model (CLI `reslens models pull NAME`; the app's Download)
 *   remove  — remove what is in the way (CLI `reslens models rm NAME`)
 *   quantize — make the model's int8 copy first (CLI `reslens quantize NAME --calibrate FOLDER`)
 */
export const HINT_ACTIONS = ['resume', 'restart', 'import', 'pull', 'remove', 'quantize'] as const;
export type HintAction = (typeof HINT_ACTIONS)[number];
export interface ErrorHint {
  /** What the user can do, first choice first. */
  actions: HintAction[];
  /** The model name the action is about (import, pull, remove). */
  model?: string;
  /** The file the action is about (the journal of a run, a model file). */
  file?: string;
}
