// The engine's public entry: hosts (the Electron glue, the browser-mode server, the CLI) import the
// engine from here only (a lint rule in eslint.layers.js holds them to it).
//
// Two kinds of export, so a host never pays for what it does not run:
// - light values and every type, exported directly: none of them loads a native addon or a client
//   library (onnxruntime-node, sharp, protobufjs, bullmq, ioredis), so `reslens --help` and
//   `reslens models list` stay quick (tests/integration/startup.test.ts measures the CLI's start);
// - heavy modules as loaders in `load`: each host loads the part it needs when a command or a request
//   needs it (esbuild's code splitting keeps each one its own chunk in the CLI's bundle).

// ---- light values ----
export * from './core/vocabulary.js';
export { EngineError, type ErrorInfo, toErrorInfo } from './core/errors.js';
export { createRunDir, removeDeadRunDirs } from './core/temp-dirs.js';
export { replaceFile } from './core/files.js';
export { defaultDataDir } from './sessions/data-dir.js';
export { findPackageFile } from './model/package-files.js';
export { normaliseModelName } from './model/model-name.js';
export type { ResolvedModel } from './model/resolve.js';
import type { resolveModel as resolveModelNow } from './model/resolve.js';
import type { journalStatus as journalStatusNow } from './batch/journal.js';
import type { findInt8Copy as findInt8CopyNow } from './quantize/int8-store.js';
export { sha256File, type TransferProgress } from './model/download.js';
export { encodeNpy } from './features/npy.js';
export { ACTIVATION_TYPES, type ActivationType, CALIBRATION_METHODS, type CalibrationMethod } from './quantize/names.js';
export { describeCalibration, folderCalibrationSource } from './quantize/calibration-source.js';
export { isEpRequest } from './infer/providers.js';
export { type PathMapping, PathAccess, parsePathMapping } from './queue/path-access.js';
export { journalPathFor, unfinishedRunError } from './batch/journal-names.js';
export { journalLockHolder, lockedError } from './batch/journal-lock.js';
export { exportFormatOf } from './batch/journal-names.js';

// ---- light functions whose modules validate with zod, loaded on first call ----
// zod (~750 KB of JavaScript) would otherwise load and build its schemas at every start, `--help`
// included: resolving a model validates the catalog, journals and int8 records validate their JSON.
// (tests/unit/engine-entry.test.ts keeps zod out of the CLI's static graph.)
export const resolveModel: typeof resolveModelNow = async (...args) => (await import('./model/resolve.js')).resolveModel(...args);
export const journalStatus: typeof journalStatusNow = async (...args) => (await import('./batch/journal.js')).journalStatus(...args);
export const findInt8Copy: typeof findInt8CopyNow = async (...args) => (await import('./quantize/int8-store.js')).findInt8Copy(...args);

// ---- types of the heavy modules (erased at run time) ----
export type { Classifier } from './infer/classifier.js';
export type { OpenedModel } from './opening/open-model.js';
export type { ClassifyResult } from './infer/classify-files.js';
export type { ModelStore } from './model/store.js';
export type { ModelListing } from './model/store-listing.js';
export type { ArchitectureSummary } from './model/architecture.js';
export type { StageMap } from './model/stages.js';
export type { BlockGates, BlockNorms } from './blocks/lens.js';
export type { LesionStudySummary } from './blocks/study.js';
export type { BatchEvent, BatchJob, BatchSummary } from './batch/run.js';
export type { OrganizeMode } from './batch/organize.js';
export type { QueueProgress, WorkerRate } from './queue/coordinator.js';
export type { WorkerModels } from './queue/worker-models.js';
export type { QueueWorker } from './queue/worker.js';
export type { RemoteModel } from './queue/remote-model.js';
export type { Explainer } from './explain/explainer.js';
export type { explainFile } from './explain/explain.js';
export type { RawMap } from './explain/methods/maps.js';

// ---- heavy modules, loaded on first use ----
export const load = {
  classifier: () => import('./infer/classifier.js'),
  classifyFiles: () => import('./infer/classify-files.js'),
  doctor: () => import('./infer/doctor.js'),
  modelStore: () => import('./model/store.js'),
  modelArchitecture: () => import('./model/architecture.js'),
  modelInspect: () => import('./model/inspect.js'),
  modelStages: () => import('./model/stages.js'),
  preprocess: () => import('./preprocess/preprocess.js'),
  featuresExtract: () => import('./features/extract.js'),
  featuresExport: () => import('./features/export.js'),
  featuresReduce: () => import('./features/reduce.js'),
  colormap: () => import('./features/colormap.js'),
  explain: () => import('./explain/explain.js'),
  explainer: () => import('./explain/explainer.js'),
  explainExport: () => import('./explain/export.js'),
  walk: () => import('./batch/walk.js'),
  npy: () => import('./features/npy.js'),
  batchRun: () => import('./batch/run.js'),
  quantizeModel: () => import('./quantize/quantize-model.js'),
  quantizeAutoCalibrate: () => import('./quantize/auto-calibrate.js'),
  report: () => import('./report/make-report.js'),
  openModel: () => import('./opening/open-model.js'),
  blocksLens: () => import('./blocks/lens.js'),
  blocksStudy: () => import('./blocks/study.js'),
  queueConnection: () => import('./queue/connection.js'),
  queueBatch: () => import('./queue/batch.js'),
  queueRemoteModel: () => import('./queue/remote-model.js'),
  queueWorker: () => import('./queue/worker.js'),
  queueWorkerModels: () => import('./queue/worker-models.js'),
};
