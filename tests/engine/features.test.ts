// Feature maps against PyTorch's forward hooks, logits unchanged by exposing stages, exact class
// activation maps, and the `reslens features` output contract.
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { extractFeatures } from '../../src-main/engine/features/extract.js';
import { STAGE_NAMES } from '../../src-main/engine/core/vocabulary.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture, type FixtureSpec } from '../fixtures/generate.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { readNpy } from '../helpers/npy.js';
import { relativeL2 } from '../helpers/compare.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata, imagenetLabels } from '../helpers/testdata.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { writeFile } from 'node:fs/promises';

const STAGE_REFERENCE_IMAGES = ['kite_by_Risto_Saukonpaa', 'china_orient6', 'flower'];
const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);

describe.runIf(hasTestdata)('stage maps against PyTorch (reference ResNet-50)', () => {
  let exposed: Classifier;
  let plain: Classifier;
  beforeAll(async () => {
    exposed = await Classifier.load({ name: 'ref', modelPath: REFERENCE_MODEL, preprocessing: TORCHVISION_PREPROCESSING, labels: imagenetLabels(), ep: 'cpu' });
    plain = await Classifier.load({
      name: 'ref',
      modelPath: REFERENCE_MODEL,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: imagenetLabels(),
      ep: 'cpu',
      stages: false,
    });
  });
  afterAll(async () => {
    await exposed?.dispose();
    await plain?.dispose();
  });

  it.each(STAGE_REFERENCE_IMAGES)('%s: every stage within 1e-4 relative L2 of the forward hooks', async (name) => {
    const input = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${name}.npy`)).data;
    const run = await exposed.run(input, 1, { features: true });
    for (const stage of STAGE_NAMES) {
      const reference = readNpy(path.join(TESTDATA, 'ref', name, `${stage}.npy`));
      const ours = run.features?.[0].stages[stage];
      expect(ours, stage).toBeDefined();
      expect(exposed.stageMap?.stages.find((s) => s.name === stage)?.shape).toEqual(reference.shape);
      expect(relativeL2(ours as Float32Array, reference.data), `${name} ${stage}`).toBeLessThan(1e-4);
    }
  });

  it('logits with stage outputs exposed and reductions switched on are identical (bit for bit) to the unmodified model', async () => {
    for (const name of STAGE_REFERENCE_IMAGES) {
      const input = readNpy(path.join(TESTDATA, 'ref', 'inputs', `${name}.npy`)).data;
      const a = (await plain.run(input, 1)).logits[0];
      const b = (await exposed.run(input, 1)).logits[0];
      const c = (await exposed.run(input, 1, { features: true })).logits[0];
      const d = (await exposed.run(input, 1, { summary: { heatmapMode: 'mean' } })).logits[0];
      expect(Buffer.from(d.buffer, d.byteOffset, d.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
      expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
      expect(Buffer.from(c.buffer, c.byteOffset, c.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
    }
  });
});

describe('class activation maps are exact (Zhou et al. 2016)', () => {
  const specs: FixtureSpec[] = [
    { depth: 18, bn: 'folded' },
    { depth: 50, variant: 'v2', bn: 'explicit' },
  ];
  let photo: string;
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-cam-'));
    photo = path.join(folder, 'photo.jpg');
    await writeFile(photo, await photoLike(500, 375, 'jpeg', 5));
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it.each(specs.map((s) => [`resnet${s.depth} ${s.variant ?? 'v1'}`, s]))(
    '%s: spatial mean of CAM_c = logit_c − bias_c for the top classes',
    async (_, spec) => {
      const classifier = await Classifier.load({
        name: 'fixture',
        modelPath: await ensureFixture(spec),
        preprocessing: TORCHVISION_PREPROCESSING,
        labels,
        ep: 'cpu',
      });
      try {
        const { result } = await extractFeatures(classifier, photo, { topClasses: 5 });
        expect(result.cams).toHaveLength(5);
        for (const cam of result.cams) {
          expect(Math.abs(cam.rawMean - (cam.logit - cam.bias))).toBeLessThan(1e-4 * Math.max(1, Math.abs(cam.logit)));
          expect(cam.map.data.some((v) => v > 0)).toBe(true);
        }
        // Different classes look at different places.
        expect(result.cams[0].map.data).not.toEqual(result.cams[1].map.data);
      } finally {
        await classifier.dispose();
      }
    },
  );
});

describe('reslens features and inspect --json stages (CLI contract)', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-features-'));
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it('writes stage tensors, overlays, channel grids, CAMs and a summary', async () => {
    const model = await ensureFixture({ depth: 50, bn: 'folded' });
    const image = path.join(folder, 'photo.png');
    await writeFile(image, await photoLike(640, 480, 'png', 3));
    const out = path.join(folder, 'out');
    const run = await runCli(['features', image, '--model', model, '--out', out, '--top', '3', '--channels', '4']);
    expect(run.code, run.stderr).toBe(0);
    const files = await readdir(out);
    const expectedShapes: Record<string, number[]> = {
      stem: [64, 56, 56],
      layer1: [256, 56, 56],
      layer2: [512, 28, 28],
      layer3: [1024, 14, 14],
      layer4: [2048, 7, 7],
    };
    for (const [stage, shape] of Object.entries(expectedShapes)) {
      const npy = readNpy(path.join(out, `${stage}.npy`));
      expect(npy.shape).toEqual(shape);
      expect(npy.data.some((v) => v > 0)).toBe(true);
      expect(files).toContain(`${stage}.png`);
      expect(files).toContain(`${stage}-channels.png`);
    }
    expect(files.filter((f) => f.startsWith('cam-'))).toHaveLength(3);
    const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as {
      stages: { name: string; shape: number[]; stats: { mean: number }; files: Record<string, string> }[];
      cams: { file: string; index: number }[];
      top: { index: number }[];
      files: string[];
    };
    expect(summary.stages.map((s) => [s.name, s.shape])).toEqual(Object.entries(expectedShapes));
    expect(summary.cams.map((c) => c.index)).toEqual(summary.top.slice(0, 3).map((t) => t.index));
    expect([...summary.files].sort()).toEqual([...files].sort());
    // Overlays are real pictures, and each stage's differs from the others.
    const stats = await Promise.all(
      Object.keys(expectedShapes).map(async (s) =>
        (
          await sharp(path.join(out, `${s}.png`))
            .raw()
            .toBuffer()
        ).toString('base64'),
      ),
    );
    expect(new Set(stats).size).toBe(5);
    const meta = await sharp(path.join(out, 'layer4.png')).metadata();
    expect([meta.width, meta.height]).toEqual([448, 448]);
    expect(jsonLines(run.stdout)).toHaveLength(1);
  });

  it('features --json prints the whole summary, the same object summary.json holds', async () => {
    const model = await ensureFixture({ depth: 18, bn: 'explicit' });
    const image = path.join(folder, 'photo-json.png');
    await writeFile(image, await photoLike(320, 240, 'png', 5));
    const out = path.join(folder, 'out-json');
    const run = await runCli(['features', image, '--model', model, '--out', out, '--top', '2', '--channels', '3', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const lines = jsonLines(run.stdout) as {
      stages: { name: string; stats: { mean: number; max: number; zeroFraction: number }; topChannels: unknown[] }[];
      cams: unknown[];
    }[];
    expect(lines).toHaveLength(1);
    const printed = lines[0];
    expect(printed).toEqual(JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')));
    // The statistics a script wants are there, per stage, and plausible for ReLU outputs.
    expect(printed.stages.map((s) => s.name)).toEqual([...STAGE_NAMES]);
    for (const stage of printed.stages) {
      expect(stage.stats.zeroFraction).toBeGreaterThan(0);
      expect(stage.stats.zeroFraction).toBeLessThan(1);
      expect(stage.stats.max).toBeGreaterThan(stage.stats.mean);
      expect(stage.topChannels).toHaveLength(3);
    }
    expect(printed.cams).toHaveLength(2);
  });

  it('inspect --json lists stages and the head, or says why not', async () => {
    const model = await ensureFixture({ depth: 18, bn: 'explicit' });
    const run = await runCli(['inspect', model, '--json']);
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout) as {
      stages: { name: string; shape: number[]; blocks: number; tensor: string }[];
      head: { weight: string; shape: number[] };
    };
    expect(info.stages.map((s) => s.name)).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
    expect(info.stages.map((s) => s.blocks)).toEqual([0, 2, 2, 2, 2]);
    expect(info.stages[4]).toMatchObject({ shape: [512, 7, 7], tensor: expect.any(String) });
    expect(info.head).toMatchObject({ weight: 'fc.weight', shape: [1000, 512] });

    const { tinyClassifier } = await import('../helpers/tiny-models.js');
    const tiny = path.join(folder, 'tiny.onnx');
    await writeFile(tiny, tinyClassifier(4));
    const tinyRun = await runCli(['inspect', tiny, '--json']);
    expect(tinyRun.code).toBe(0);
    expect(JSON.parse(tinyRun.stdout)).toMatchObject({ classes: 4, stagesError: expect.stringMatching(/no residual blocks/) });
  });
});
