// The block lens for the UI: one image's block strip with live lesions, and lesion studies over a
// folder (progress and the table so far streamed as events, pause/cancel, export). All behaviour is
// in engine/blocks; this only keeps the UI's studies and translates to contract values.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type {
  BlocksValue,
  EngineEvents,
  EventName,
  ImageId,
  LesionRowValue,
  LesionStudyValue,
  RequestParams,
  RequestResults,
  StudyId,
} from '../api/contract.js';
import { inspectImageBlocks, lesionedFeatures } from '../engine/blocks/image.js';
import { type BlockLens, blockLens } from '../engine/blocks/lens.js';
import { type LesionDetails, type LesionStudyJob, startLesionStudy, studyCsv, studyJson, studyTable } from '../engine/blocks/study.js';
import type { BatchProgress } from '../engine/batch/pipeline.js';
import { EngineError, type ErrorInfo } from '../engine/core/errors.js';
import { ErrorCode } from '../engine/core/vocabulary.js';
import type { Classifier } from '../engine/infer/classifier.js';
import { preprocessFile } from '../engine/preprocess/preprocess.js';
import { camValue, heatmapValue, stageValue, tenthsOfMs } from './feature-values.js';

interface Study {
  id: StudyId;
  folder: string;
  job: LesionStudyJob;
  classifier: Classifier;
  last: BatchProgress;
  /** Running sums per block from the results as they arrive (the final table is read from the journal). */
  sums: Map<string, { images: number; agree: number; drop: number }>;
  rows?: LesionRowValue[];
  /** Where each studied block sits (for the table's columns before the final table). */
  infos: Map<string, { stage: string; index: number; downsample: boolean; stride: number }>;
  outcome?: 'done' | 'cancelled' | 'failed';
  error?: ErrorInfo;
}

export class BlockRequests {
  private readonly studies = new Map<StudyId, Study>();
  private workDir?: Promise<string>;

  constructor(
    /** Creates (once) the private folder for studies' journals and tables. */
    private readonly createWorkDir: () => Promise<string>,
    private readonly emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => void,
    /** Browser mode's --root: every walked path must resolve (realpath) under it, as for batches. */
    private readonly within?: string,
  ) {}

  async blocks(classifier: Classifier, image: { id: ImageId; path: string }, scales: Record<string, number> = {}): Promise<BlocksValue> {
    const { lens, tensor } = await this.prepare(classifier, image.path);
    const result = await inspectImageBlocks(lens, tensor, scales);
    return {
      image: image.id,
      model: classifier.name,
      ep: result.ep,
      ms: tenthsOfMs(result.inferenceMs),
      blocks: result.blocks.map((b) => ({
        id: b.id,
        stage: b.stage,
        index: b.index,
        downsample: b.downsample,
        stride: b.stride,
        inputNorm: b.inputNorm,
        residualNorm: b.residualNorm,
        shortcutNorm: b.shortcutNorm,
        outputNorm: b.outputNorm,
        scale: b.scale,
        residualMap: heatmapValue(b.residualMap),
        outputMap: heatmapValue(b.outputMap),
      })),
      top: result.top,
      intactTop: result.intactTop,
      intactTop1: result.intactTop1,
    };
  }

  /** The feature view's maps of the network with `params.scales` applied (the same values as `features.get`, less the photo crop and the channel means). */
  async features(
    classifier: Classifier,
    image: { id: ImageId; path: string },
    params: RequestParams<'blocks.features'>,
  ): Promise<RequestResults['blocks.features']> {
    const { lens, tensor } = await this.prepare(classifier, image.path);
    const result = await lesionedFeatures(lens, tensor, params.scales, {
      topChannels: params.channels ?? 8,
      topClasses: params.classes ?? 5,
      heatmapMode: params.mode ?? 'mean',
    });
    return {
      image: image.id,
      top: result.top,
      ep: result.ep,
      ms: tenthsOfMs(result.inferenceMs),
      stages: result.stages.map((s) => stageValue(classifier, s, { channelMeans: false })),
      cams: result.cams.map(camValue),
    };
  }

  /** The classifier's block lens and one photo, preprocessed for it. */
  private async prepare(classifier: Classifier, file: string): Promise<{ lens: BlockLens; tensor: Float32Array }> {
    const lens = await blockLens(classifier);
    const { tensor } = await preprocessFile(file, classifier.preprocessing);
    return { lens, tensor };
  }

  async start(classifier: Classifier, folder: string, options: { blocks?: string[]; exact?: boolean }): Promise<LesionStudyValue> {
    const lens = await blockLens(classifier);
    const id = `study_${randomBytes(9).toString('base64url')}` as StudyId;
    this.workDir ??= this.createWorkDir();
    const workDir = await this.workDir;
    const job = await startLesionStudy({
      lens,
      inputs: [folder],
      out: path.join(workDir, `${id}.json`),
      blocks: options.blocks,
      mode: options.exact ? 'exact' : 'fast',
      ...(this.within ? { walk: { within: this.within } } : {}),
    });
    const infos = new Map(lens.blocks.map((b) => [b.id, { stage: b.stage, index: b.index, downsample: b.downsample, stride: b.stride }]));
    const study: Study = {
      id,
      folder,
      job,
      classifier,
      last: job.progress(),
      infos,
      sums: new Map(job.blocks.map((b) => [b, { images: 0, agree: 0, drop: 0 }])),
    };
    this.studies.set(id, study);
    job.on((event) => {
      if (event.type === 'progress') {
        study.last = event.progress;
        this.emit('lesion.progress', this.value(study));
      } else if (event.type === 'results') {
        for (const result of event.results) {
          if ('error' in result || !result.top[0]) continue;
          for (const outcome of (result.details as LesionDetails | undefined)?.lesions ?? []) {
            const sum = study.sums.get(outcome.block);
            if (!sum) continue;
            sum.images++;
            if (outcome.top1 === result.top[0].index) sum.agree++;
            sum.drop += result.top[0].prob - outcome.prob;
          }
        }
      }
    });
    void job.done.then(
      (summary) => {
        study.outcome = summary.state === 'finished' ? 'done' : summary.state;
        study.last = summary.progress;
        study.rows = summary.table?.rows;
        study.error = summary.error;
        this.emit('lesion.progress', this.value(study));
      },
      (error: unknown) => {
        study.outcome = 'failed';
        study.error = { code: ErrorCode.INFERENCE_FAILED, message: (error as Error).message };
        this.emit('lesion.progress', this.value(study));
      },
    );
    return this.value(study);
  }

  control(id: StudyId, action: 'pause' | 'resume' | 'cancel'): LesionStudyValue {
    const study = this.study(id);
    if (!study.outcome) {
      if (action === 'pause') study.job.pause();
      else if (action === 'resume') study.job.resume();
      else study.job.cancel();
      study.last = study.job.progress();
    }
    return this.value(study);
  }

  /** The table of what is done so far (or all), from the journal, as bytes for the host to save. */
  async export(id: StudyId, format: 'csv' | 'json'): Promise<RequestResults['lesion.export']> {
    const study = this.study(id);
    const table = await studyTable(study.job.journalFile, await blockLens(study.classifier), study.job.blocks);
    const text = format === 'csv' ? studyCsv(table) : studyJson(table);
    const data = Buffer.from(text, 'utf8');
    return {
      fileName: `reslens-lesions-${path.basename(study.folder) || 'folder'}.${format}`,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }

  private value(study: Study): LesionStudyValue {
    const p = study.last;
    const state: LesionStudyValue['state'] = study.outcome ?? (p.state === 'paused' ? 'paused' : 'running');
    const rows =
      study.rows ??
      study.job.blocks.map((block) => {
        const info = study.infos.get(block) ?? { stage: '', index: -1, downsample: false, stride: 1 };
        const sum = study.sums.get(block) ?? { images: 0, agree: 0, drop: 0 };
        return { block, ...info, images: sum.images, agreement: sum.images ? sum.agree / sum.images : 0, meanProbDrop: sum.images ? sum.drop / sum.images : 0 };
      });
    return {
      study: study.id,
      folder: study.folder,
      state,
      blocks: [...study.job.blocks],
      inferencesPerImage: study.job.blocks.length + 1,
      done: p.done,
      failed: p.failed,
      total: p.totalFinal ? p.total : null,
      imagesPerSecond: p.imagesPerSecond,
      etaSeconds: p.etaSeconds,
      rows,
      ...(study.error ? { error: { code: study.error.code, message: study.error.message } } : {}),
    };
  }

  private study(id: StudyId): Study {
    const study = this.studies.get(id);
    if (!study) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `unknown lesion study ${id}`);
    return study;
  }

  /** Resolves when no running study uses `classifier`. */
  async idle(classifier: Classifier): Promise<void> {
    await Promise.allSettled([...this.studies.values()].filter((s) => s.classifier === classifier && !s.outcome).map((s) => s.job.done));
  }

  cancelAll(): void {
    for (const study of this.studies.values()) if (!study.outcome) study.job.cancel();
  }
}
