// Cost of a lesion study: ResNet-50 (16 blocks: 17 inferences per image) over 100 photos, against
// plain inference counted per inference run. The study runs as users run it (the batch pipeline:
// walk, decode once in workers, intact + one gated run per block, journal + sync, the table at the
// end); the baseline is the classifier's own session on already decoded batches of the same size,
// with no decoding at all, so the ratio charges the study with everything it adds.
// Also samples the process's RSS through the study: it should stay flat.
// Writes bench-results/lesion-latest.json. Target: ≥ 80% of plain inference runs per second.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blockLens, releaseBlockLens } from '../../src-main/engine/blocks/lens.js';
import { startLesionStudy } from '../../src-main/engine/blocks/study.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REFERENCE_MODEL, REPO_ROOT } from '../helpers/testdata.js';
import { benchPhotoSets } from './batch-photos.js';

const IMAGES = Number(process.env.BENCH_LESION_IMAGES ?? 100);
const BATCH = 8;
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const { small } = await benchPhotoSets({ small: 200, large: 0 });
  const photos = small.slice(0, IMAGES);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-lesion-bench-'));
  // The study walks a folder: link the chosen photos into one.
  const { symlink } = await import('node:fs/promises');
  for (const photo of photos) await symlink(photo, path.join(folder, path.basename(photo)));
  const modelFile = existsSync(REFERENCE_MODEL) ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' });
  const classifier = await Classifier.load({
    name: 'resnet50',
    modelPath: modelFile,
    preprocessing: TORCHVISION_PREPROCESSING,
    labels: await loadLabels(),
    ep: 'cpu',
    cacheDir: path.join(REPO_ROOT, '.cache', 'engine'),
  });
  const lens = await blockLens(classifier);
  const loadAverage = () => os.loadavg().map((l) => round(l));

  // Plain inference: the classifier's unedited session on decoded batches of BATCH (best of two passes).
  const tensors = await Promise.all(photos.slice(0, 4 * BATCH).map(async (p) => (await preprocessFile(p, TORCHVISION_PREPROCESSING)).tensor));
  const batch = new Float32Array(BATCH * classifier.imageSize);
  tensors.slice(0, BATCH).forEach((t, i) => batch.set(t, i * classifier.imageSize));
  await classifier.run(batch, BATCH); // warm-up
  let plainRunsPerSecond = 0;
  for (let pass = 0; pass < 2; pass++) {
    const start = performance.now();
    const runs = Math.ceil(IMAGES / BATCH);
    for (let r = 0; r < runs; r++) await classifier.run(batch, BATCH);
    plainRunsPerSecond = Math.max(plainRunsPerSecond, (runs * BATCH) / ((performance.now() - start) / 1000));
  }
  const loadBefore = loadAverage();

  // The study.
  const out = path.join(folder, 'out', 'study.csv');
  await mkdir(path.dirname(out), { recursive: true });
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 500);
  const start = performance.now();
  const job = await startLesionStudy({ lens, inputs: [folder], out, batchSize: BATCH });
  const summary = await job.done;
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  const inferencesPerImage = job.blocks.length + 1;
  const studyRunsPerSecond = (summary.progress.done * inferencesPerImage) / seconds;
  const mb = (b: number) => round(b / 2 ** 20, 0);
  const quarter = Math.max(1, Math.floor(rss.length / 4));
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverageBefore: loadBefore, loadAverageAfter: loadAverage() },
    model: path.basename(modelFile),
    images: summary.progress.done,
    failed: summary.failed,
    blocks: job.blocks.length,
    inferencesPerImage,
    batch: BATCH,
    study: {
      seconds: round(seconds, 1),
      imagesPerSecond: round(summary.progress.done / seconds),
      inferenceRunsPerSecond: round(studyRunsPerSecond),
      pipeline: summary.stats,
    },
    plain: { inferenceRunsPerSecond: round(plainRunsPerSecond) },
    ratio: round(studyRunsPerSecond / plainRunsPerSecond, 3),
    target: 0.8,
    // RSS over the study: first quarter vs last quarter of the samples, and the peak.
    rssMb: {
      firstQuarterMax: mb(Math.max(...rss.slice(0, quarter))),
      lastQuarterMax: mb(Math.max(...rss.slice(-quarter))),
      peak: mb(Math.max(...rss)),
      samples: rss.length,
    },
    table: summary.table?.rows.map((r) => ({ block: r.block, agreement: round(r.agreement, 3), meanProbDrop: round(r.meanProbDrop, 4) })),
  };
  await releaseBlockLens(classifier);
  await classifier.dispose();
  await rm(folder, { recursive: true, force: true });
  const dir = path.join(REPO_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'lesion-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    JSON.stringify(
      {
        ratio: result.ratio,
        study: result.study.inferenceRunsPerSecond,
        plain: result.plain.inferenceRunsPerSecond,
        rssMb: result.rssMb,
        load: result.machine,
      },
      null,
      1,
    ),
  );
}

await main();
