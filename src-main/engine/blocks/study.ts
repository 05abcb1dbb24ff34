// Lesion studies (Veit et al., NeurIPS 2016): for each studied block, the whole folder is
// classified with that block's residual branch removed, and compared with the intact network.
//
// It runs on the batch pipeline: every image is decoded once, and each batch of decoded images
// goes through the gated session 1 + B times (intact, then one run per studied block with that
// block's gate at 0; ResNet-50's 16 blocks: 17 inferences per image). Each image's outcome is
// journaled with the batch's durability (results are reported only once synced), so a study that
// is killed resumes where it stopped. The study table is computed from the journal at the end:
// per block, how often the lesioned network's top-1 agrees with the intact one, and how much
// probability the intact top-1 class loses on average.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { csvLine } from '../batch/export.js';
import { journalPathFor, readJournal, readRecords } from '../batch/journal.js';
import type { BatchClassifier, BatchMode } from '../batch/pipeline.js';
import { type BatchEvent, type BatchJob, type BatchRunOptions, type BatchSummary, startBatch } from '../batch/run.js';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { replaceFile } from '../core/files.js';
import { softmax } from '../infer/topk.js';
import { resolveBlockIds } from './discover.js';
import type { BlockLens } from './lens.js';

/** Bumped when what a study journals per image changes: an older journal is then not continued. */
export const STUDY_FORMAT_VERSION = 1;

/** One image's outcome with one block removed. */
export interface LesionOutcome {
  block: string;
  /** The lesioned network's top-1 class. */
  top1: number;
  /** The lesioned network's probability of the intact network's top-1 class. */
  prob: number;
}

/** What a study journals per image beside the intact top-k. */
export interface LesionDetails {
  lesions: LesionOutcome[];
}

/** One row of the study table. */
export interface LesionStudyRow {
  block: string;
  stage: string;
  index: number;
  downsample: boolean;
  stride: number;
  /** Images classified (failed images are left out). */
  images: number;
  /** Fraction of images whose top-1 is unchanged with the block removed. */
  agreement: number;
  /** Mean over images of (intact probability − lesioned probability) of the intact top-1 class. */
  meanProbDrop: number;
}

export interface LesionStudyTable {
  model: string;
  blocks: string[];
  images: number;
  failed: number;
  rows: LesionStudyRow[];
}

export interface LesionStudyOptions extends Pick<
  BatchRunOptions,
  | 'inputs'
  | 'batchSize'
  | 'decodeConcurrency'
  | 'preprocessIn'
  | 'maxPixels'
  | 'walk'
  | 'resume'
  | 'restart'
  | 'retryFailed'
  | 'progressIntervalMs'
  | 'lingerMs'
> {
  lens: BlockLens;
  /** Study table: .csv or .json. Its journal is `<out>.reslens-journal.jsonl`. */
  out: string;
  /** Blocks to study (default: every block). */
  blocks?: readonly string[];
  mode?: BatchMode;
  onEvent?: (event: BatchEvent) => void;
}

export interface LesionStudySummary extends BatchSummary {
  table?: LesionStudyTable;
}

export interface LesionStudyJob extends Omit<BatchJob, 'done'> {
  readonly blocks: readonly string[];
  readonly done: Promise<LesionStudySummary>;
}

export function studyFormatOf(file: string): 'csv' | 'json' | undefined {
  const ext = path.extname(file).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.json' ? 'json' : undefined;
}

/** The lens as a batch classifier whose every run is the intact network plus one run per studied block. */
function studyClassifier(lens: BlockLens, blocks: readonly string[]): BatchClassifier & { labels: readonly string[]; info: { sha256: string } } {
  const { classifier } = lens;
  // The journal's identity: the same model and the same studied blocks, in the same format.
  const sha256 = createHash('sha256')
    .update(classifier.info.sha256)
    .update(`lesion-study-v${STUDY_FORMAT_VERSION}:${blocks.join(',')}`)
    .digest('hex');
  return {
    name: classifier.name,
    get ep() {
      return lens.ep;
    },
    preprocessing: classifier.preprocessing,
    maxRunBatch: classifier.maxRunBatch,
    imageSize: classifier.imageSize,
    defaultBatchSize: classifier.defaultBatchSize,
    labels: classifier.labels,
    info: { sha256 },
    top: (logits, k) => lens.top(logits, k),
    async run(batch, count, options) {
      const priority = options?.priority ?? 'background';
      const intact = await lens.run(batch, count, { priority });
      const baseline = intact.logits.map((logits) => {
        const probs = softmax(logits);
        let best = 0;
        for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
        return best;
      });
      const details: LesionDetails[] = baseline.map(() => ({ lesions: [] }));
      let inferenceMs = intact.inferenceMs;
      // Each variant runs the whole batch; between variants an interactive request may take its turn.
      for (const block of blocks) {
        const lesioned = await lens.run(batch, count, { gates: { [block]: 0 }, priority });
        inferenceMs += lesioned.inferenceMs;
        lesioned.logits.forEach((logits, i) => {
          const probs = softmax(logits);
          let top1 = 0;
          for (let c = 1; c < probs.length; c++) if (probs[c] > probs[top1]) top1 = c;
          details[i].lesions.push({ block, top1, prob: probs[baseline[i]] });
        });
      }
      return { logits: intact.logits, inferenceMs, epByImage: intact.epByImage, details };
    },
  };
}

/** Starts (or resumes) a study; the table is written to `out` when the run ends, also when cancelled (from what is done). */
export async function startLesionStudy(options: LesionStudyOptions): Promise<LesionStudyJob> {
  const format = studyFormatOf(options.out);
  if (!format) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `cannot tell the study format from ${options.out}: use .csv or .json`, { item: options.out });
  const { lens } = options;
  const blocks = resolveBlockIds(lens.blocks, options.blocks && options.blocks.length > 0 ? options.blocks : lens.blocks.map((b) => b.id));
  // Forward order whatever order they were named in.
  blocks.sort((a, b) => lens.blocks.findIndex((x) => x.id === a) - lens.blocks.findIndex((x) => x.id === b));
  const journal = journalPathFor(options.out);
  // The intact network's per-image top-5, growing as the study runs (the pipeline's own export).
  const images = `${options.out}.reslens-images.jsonl`;
  const job = await startBatch({ ...options, classifier: studyClassifier(lens, blocks), out: images, journal, top: 5 });
  const done = job.done.then(async (summary): Promise<LesionStudySummary> => {
    try {
      const table = await studyTable(journal, lens, blocks);
      await writeStudy(options.out, format, table);
      if (summary.state === 'finished') await rm(images, { force: true });
      return { ...summary, table };
    } catch (error) {
      return { ...summary, state: 'failed', error: { code: ErrorCode.READ_FAILED, message: `cannot write the study table: ${(error as Error).message}` } };
    }
  });
  return { ...job, blocks, done, journalFile: journal, outFile: options.out };
}

/** The table from everything the journal holds (all sessions of a resumed study). */
export async function studyTable(journalFile: string, lens: BlockLens, blocks: readonly string[]): Promise<LesionStudyTable> {
  const state = await readJournal(journalFile);
  const sums = new Map(blocks.map((b) => [b, { images: 0, agree: 0, drop: 0 }]));
  let images = 0;
  let failed = 0;
  for await (const record of readRecords(journalFile, state.entries, state.entries.keys())) {
    const result = record.result;
    if ('error' in result) {
      failed++;
      continue;
    }
    const details = result.details as LesionDetails | undefined;
    const intact = result.top[0];
    if (!details || !Array.isArray(details.lesions) || !intact) continue;
    images++;
    for (const outcome of details.lesions) {
      const sum = sums.get(outcome.block);
      if (!sum) continue;
      sum.images++;
      if (outcome.top1 === intact.index) sum.agree++;
      sum.drop += intact.prob - outcome.prob;
    }
  }
  const rows = blocks.map((id) => {
    const block = lens.blocks.find((b) => b.id === id);
    const sum = sums.get(id) ?? { images: 0, agree: 0, drop: 0 };
    return {
      block: id,
      stage: block?.stage ?? '',
      index: block?.index ?? -1,
      downsample: block?.downsample ?? false,
      stride: block?.stride ?? 1,
      images: sum.images,
      agreement: sum.images > 0 ? sum.agree / sum.images : 0,
      meanProbDrop: sum.images > 0 ? sum.drop / sum.images : 0,
    };
  });
  return { model: lens.classifier.name, blocks: [...blocks], images, failed, rows };
}

export const STUDY_CSV_COLUMNS = ['block', 'stage', 'index', 'downsample', 'stride', 'images', 'top1_agreement', 'mean_top1_prob_drop'];

export function studyCsv(table: LesionStudyTable): string {
  return [
    STUDY_CSV_COLUMNS,
    ...table.rows.map((r) => [
      r.block,
      r.stage,
      String(r.index),
      String(r.downsample),
      String(r.stride),
      String(r.images),
      r.agreement.toFixed(6),
      r.meanProbDrop.toFixed(6),
    ]),
  ]
    .map(csvLine)
    .join('');
}

export function studyJson(table: LesionStudyTable): string {
  return `${JSON.stringify({ reslens: 'lesion-study', ...table }, null, 1)}\n`;
}

/** Writes the table through a temporary file renamed into place: a reader never sees half a table. */
async function writeStudy(file: string, format: 'csv' | 'json', table: LesionStudyTable): Promise<void> {
  await replaceFile(file, format === 'csv' ? studyCsv(table) : studyJson(table));
}
