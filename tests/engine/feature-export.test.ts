// engine/features/export.ts: the feature export the CLI and the app share, called directly.
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { exportFeatures, INT8_FEATURES_NOTE } from '../../src-main/engine/features/export.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { readNpy } from '../helpers/npy.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

const labels = Array.from({ length: 1000 }, (_, i) => `Class ${i}`);
const options = { topClasses: 2, channels: 4, colormap: 'viridis' as const, opacity: 0.4, mode: 'max' as const, size: 128 };

describe('exportFeatures', () => {
  let folder: string;
  let image: string;
  let classifier: Classifier;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-feature-export-'));
    image = path.join(folder, 'photo.png');
    await writeFile(image, await photoLike(320, 240, 'png', 5));
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    classifier = await Classifier.load({ name: 'fixture', modelPath: model, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu' });
  });
  afterAll(async () => {
    await classifier?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('writes the file set its summary lists, with the options it was given, into a folder it creates', async () => {
    const out = path.join(folder, 'nested', 'out');
    const summary = await exportFeatures(classifier, image, out, { ...options, requestedPrecision: 'int8' });
    const written = await readdir(out);
    expect([...summary.files].sort()).toEqual([...written].sort());
    expect(summary.files.at(-1)).toBe('summary.json');
    expect(JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'))).toEqual(summary);
    expect(summary.heatmap).toEqual({ mode: 'max', colormap: 'viridis', opacity: 0.4, size: 128 });
    expect(summary.cams.map((c) => c.index)).toEqual(summary.top.slice(0, 2).map((t) => t.index));
    expect(summary.cams[0]?.file).toBe(`cam-1-class-${summary.top[0]?.index}.png`);
    for (const stage of summary.stages) {
      expect(stage.topChannels).toHaveLength(4);
      expect(readNpy(path.join(out, stage.files.tensor)).shape).toEqual(stage.shape);
    }
    expect(summary.precisionNote).toBe(INT8_FEATURES_NOTE);
    expect(summary.precision).toBe('fp32');
  });

  it('a symbolic link planted in the output folder is replaced, not written through (the explain export writes the same way)', async () => {
    const out = path.join(folder, 'planted');
    await mkdir(out);
    const victim = path.join(folder, 'victim.txt');
    await writeFile(victim, 'keep me');
    await symlink(victim, path.join(out, 'summary.json'));
    await symlink(victim, path.join(out, 'stem.npy'));
    const summary = await exportFeatures(classifier, image, out, options);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect((await lstat(path.join(out, 'summary.json'))).isFile()).toBe(true);
    expect((await lstat(path.join(out, 'stem.npy'))).isFile()).toBe(true);
    // No temporary file is left beside the export.
    expect([...(await readdir(out))].sort()).toEqual([...summary.files].sort());
  });

  it('a model without stage outputs: UNSUPPORTED_MODEL and nothing written', async () => {
    const plain = await Classifier.load({
      name: 'plain',
      modelPath: await ensureFixture({ depth: 18, bn: 'folded' }),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
      stages: false,
    });
    const out = path.join(folder, 'none');
    try {
      await expect(exportFeatures(plain, image, out, options)).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL' });
      await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await plain.dispose();
    }
  });

  it("a file that is not an image: rejected with the file's error, no summary", async () => {
    const bad = path.join(folder, 'bad.png');
    await writeFile(bad, 'not a picture');
    const out = path.join(folder, 'bad-out');
    await expect(exportFeatures(classifier, bad, out, options)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
    await expect(readFile(path.join(out, 'summary.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
