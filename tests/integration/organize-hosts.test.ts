// Organise is one behaviour: the app's Organise (the service's batch.organize, after a run) and the
// CLI's `reslens batch --resume --organize` (startBatch with organize, the call the command makes)
// place the same files under the same names and report the same summary for the same journal; the
// app's Preview (a dry run of the same planner) counts exactly what Organise then does; a file that
// cannot be placed is a reported failure in both, never a silent skip.
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../src-main/engine/batch/run.js';
import { journalPathFor } from '../../src-main/engine/batch/journal.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { BatchJobs } from '../../src-main/service/batch-jobs.js';
import type { BatchId } from '../../src-main/api/contract.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

/** Every file under dest, relative, sorted (the names carry the "(1)" suffixes). */
async function tree(dest: string): Promise<string[]> {
  const entries = await readdir(dest, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dest, path.join(e.parentPath, e.name)))
    .sort();
}

describe('organise: app and CLI on the same journal', () => {
  let root: string;
  let photos: string;
  let classifier: Classifier;
  let jobs: BatchJobs;
  let batch: BatchId;
  let journal: string;
  const vanished = 'b/IMG_2.jpg';

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-organize-hosts-'));
    photos = path.join(root, 'photos');
    // The same names in two folders (so the order of placement decides who gets "IMG_0 (1).jpg"),
    // and a file that is not an image (classified as an error: never organised).
    for (const folder of ['b', 'a']) {
      await mkdir(path.join(photos, folder), { recursive: true });
      for (let i = 0; i < 4; i++)
        await writeFile(path.join(photos, folder, `IMG_${i}.jpg`), await photoLike(260 + 20 * i, 200, 'jpeg', folder === 'a' ? i + 1 : i + 1));
    }
    await writeFile(path.join(photos, 'a', 'notes.jpg'), 'not a photo');
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    classifier = await Classifier.load({
      name: 'resnet18-fixture',
      modelPath: model,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: await loadLabels(),
      ep: 'cpu',
      stages: false,
    });
    jobs = new BatchJobs({ tempBase: path.join(root, 'app-work') }, () => undefined);
    batch = (await jobs.start(classifier, photos, { top: 3 })).batch;
    await jobs.idle(classifier);
    const found = (await readdir(path.join(root, 'app-work'), { recursive: true })).filter((f) => f.endsWith('.reslens-journal.jsonl'));
    expect(found).toHaveLength(1);
    journal = path.join(root, 'app-work', found[0]!);
    // The CLI works on its own copy of the same journal (each organise journals its placements).
    await mkdir(path.join(root, 'cli'), { recursive: true });
    await copyFile(journal, journalPathFor(path.join(root, 'cli', 'results.jsonl')));
    // A photo that goes missing after it was classified: a failure for both.
    await rm(path.join(photos, vanished));
  });
  afterAll(async () => {
    await jobs?.dispose();
    await classifier?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('the preview counts what organise does, and app and CLI organise alike', async () => {
    const options = { minProb: 0.02, mode: 'copy' as const };
    const preview = await jobs.organize(batch, path.join(root, 'app-dest'), { ...options, dryRun: true });
    expect(await readdir(root)).not.toContain('app-dest'); // a preview touches nothing
    const app = await jobs.organize(batch, path.join(root, 'app-dest'), { ...options, dryRun: false });

    const cliJob = await startBatch({
      inputs: [photos],
      classifier,
      out: path.join(root, 'cli', 'results.jsonl'),
      top: 3,
      resume: true,
      organize: { dest: path.join(root, 'cli-dest'), minProb: 0.02, mode: 'copy', labels: classifier.labels },
    });
    const cli = await cliJob.done;

    // The engine's summary, equal.
    expect({ copied: app.copied, linked: app.linked, planned: app.planned, already: app.already, errors: app.errors }).toEqual(cli.organized);
    expect(app.copied).toBe(7);
    expect(app.errors).toBe(1);
    expect(app.failures).toEqual([expect.objectContaining({ path: path.join(photos, vanished), error: expect.objectContaining({ code: 'FILE_NOT_FOUND' }) })]);
    expect(app.unclassified).toBe(1);
    // The same files under the same names.
    const appTree = await tree(path.join(root, 'app-dest'));
    expect(appTree).toEqual(await tree(path.join(root, 'cli-dest')));
    expect(appTree).toHaveLength(7);
    // The preview planned exactly that: per folder, and in total (the vanished file is planned, then fails).
    const perFolder: Record<string, number> = {};
    for (const file of appTree) perFolder[file.split(path.sep)[0]!] = (perFolder[file.split(path.sep)[0]!] ?? 0) + 1;
    expect(app.folders).toEqual(perFolder);
    expect(preview.planned).toBe(app.copied + app.errors);
    const previewMinusFailure = { ...preview.folders };
    const failedFolder = app.failures[0]!.folder;
    previewMinusFailure[failedFolder] = (previewMinusFailure[failedFolder] ?? 0) - 1;
    if (previewMinusFailure[failedFolder] === 0) delete previewMinusFailure[failedFolder];
    expect(previewMinusFailure).toEqual(app.folders);
    expect(preview.unclassified).toBe(1);

    // Placements are journaled: organising again reports them as already there, copies nothing.
    const again = await jobs.organize(batch, path.join(root, 'app-dest'), { ...options, dryRun: false });
    expect(again).toMatchObject({ copied: 0, already: 7, errors: 1 });
    expect(await tree(path.join(root, 'app-dest'))).toEqual(appTree);
  });
});
