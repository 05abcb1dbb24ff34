// A batch over a messy real folder, engine API (the functions every host drives) with a real
// onnxruntime session: good photos, the whole bad-input set, nested folders, a symlink loop, odd
// names, hidden and system files, files that vanish mid-run; then resume, exports and organise.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEvent, startBatch } from '../../src-main/engine/batch/run.js';
import type { BatchClassifier } from '../../src-main/engine/batch/pipeline.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import type { ClassifyResult } from '../../src-main/engine/infer/classify-files.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { type BadInputCase, photoLike, writeBadInputSet } from '../helpers/bad-inputs.js';
import { csvRecords } from '../helpers/csv.js';

describe('batch over a messy folder', () => {
  let root: string;
  let photos: string;
  let out: string;
  let classifier: Classifier;
  let cases: BadInputCase[];
  const good: string[] = [];
  const vanishing: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-batch-mixed-'));
    photos = path.join(root, 'photos');
    out = path.join(root, 'out');
    const write = async (rel: string, bytes: Buffer | string) => {
      const file = path.join(photos, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, bytes);
      return file;
    };
    for (let i = 0; i < 6; i++) good.push(await write(path.join('a-first', `IMG_${i}.jpg`), await photoLike(300 + 10 * i, 200, 'jpeg', i + 1)));
    good.push(await write(path.join('nested', 'deeper', 'deepest', 'photo, with comma.jpg'), await photoLike(320, 240, 'jpeg', 40)));
    good.push(await write(path.join('nested', 'quote "q" & ünïcödé 写真.png'), await photoLike(200, 300, 'png', 41)));
    good.push(await write(path.join('nested', 'no-extension-jpeg'), await photoLike(256, 256, 'jpeg', 42)));
    good.push(await write(path.join('nested', ' leading space.jpg'), await photoLike(256, 256, 'jpeg', 43)));
    // Files the walk must leave alone.
    await write('.hidden.jpg', await photoLike(64, 64, 'jpeg', 50));
    await write(path.join('.thumbnails', 'x.jpg'), await photoLike(64, 64, 'jpeg', 51));
    await write(path.join('@eaDir', 'SYNOPHOTO_THUMB.jpg'), await photoLike(64, 64, 'jpeg', 52));
    await write('Thumbs.db', 'not an image');
    await write('notes.txt', 'shopping list');
    // A link back up the tree: each folder once.
    await symlink('..', path.join(photos, 'nested', 'deeper', 'loop-to-nested'));
    // Walked first; more files than the pipeline admits at once, so some are listed but not yet read when they go.
    for (let i = 0; i < 14; i++)
      vanishing.push(await write(path.join('0-vanishing', `v${String(i).padStart(2, '0')}.jpg`), await photoLike(300, 200, 'jpeg', 60 + i)));
    cases = await writeBadInputSet(path.join(photos, 'bad'));

    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    classifier = await Classifier.load({
      name: 'resnet18-fixture',
      modelPath: model,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: await loadLabels(),
      ep: 'cpu',
      stages: false,
    });
  });
  afterAll(async () => {
    await classifier?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('classifies what is fine, gives each bad file its own error, survives files deleted mid-run', async () => {
    // Hold the first inference run while the pipeline fills its slots, then delete the 0-vanishing folder's files.
    let runs = 0;
    const slowed: BatchClassifier = {
      name: classifier.name,
      ep: classifier.ep,
      preprocessing: classifier.preprocessing,
      maxRunBatch: classifier.maxRunBatch,
      imageSize: classifier.imageSize,
      top: (l, k) => classifier.top(l, k),
      run: async (batch, count) => {
        if (++runs === 1) {
          await new Promise((r) => setTimeout(r, 600));
          for (const file of vanishing) await unlink(file).catch(() => undefined);
        }
        return classifier.run(batch, count);
      },
    };
    const events: BatchEvent[] = [];
    const job = await startBatch({
      inputs: [photos],
      classifier: Object.assign(slowed, { labels: classifier.labels, info: classifier.info }),
      out: path.join(out, 'results.csv'),
      batchSize: 2,
      decodeConcurrency: 2,
      top: 3,
      onEvent: (e) => events.push(e),
    });
    const summary = await job.done;
    expect(summary.state).toBe('finished');
    const rows = csvRecords(await readFile(path.join(out, 'results.csv'), 'utf8'));
    const byPath = new Map(rows.map((r) => [r.path, r]));
    expect(byPath.size).toBe(rows.length); // each file once

    for (const file of good) {
      expect(byPath.get(file)?.error_code, file).toBe('');
      expect(byPath.get(file)?.top1_label.length, file).toBeGreaterThan(0);
      expect(byPath.get(file)?.model).toBe('resnet18-fixture');
    }
    // The bad-input set: the walk lists files with image extensions (and raster content); each gets its verdict.
    const set = path.join(photos, 'bad');
    for (const c of cases) {
      const file = path.join(set, c.file);
      if (c.expect === 'folder' || c.file === 'missing.jpg') continue;
      if (['vector.svg', 'document.pdf'].includes(c.file)) {
        expect(byPath.has(file), c.file).toBe(false); // not images by extension or content
        continue;
      }
      const row = byPath.get(file);
      expect(row, c.file).toBeDefined();
      expect(row?.error_code, c.file).toBe(c.expect === 'ok' ? '' : c.expect);
    }
    expect(rows.filter((r) => r.path.endsWith('nested.png'))).toHaveLength(1);
    expect(byPath.get(path.join(set, 'loop', 'self.jpg'))?.error_code).toBe('SYMLINK_LOOP');
    // Hidden, system and thumbnail files are not walked; the nested loop is walked once.
    expect(rows.some((r) => /\.hidden|\.thumbnails|@eaDir|Thumbs\.db|notes\.txt/.test(r.path))).toBe(false);
    expect(rows.filter((r) => r.path.endsWith('photo, with comma.jpg'))).toHaveLength(1);
    // Vanished files: classified before they went, or FILE_NOT_FOUND; never another error.
    const vanished = vanishing.map((f) => byPath.get(f)).filter((r) => r !== undefined);
    expect(vanished.some((r) => r.error_code === 'FILE_NOT_FOUND')).toBe(true);
    for (const r of vanished) expect(['', 'FILE_NOT_FOUND']).toContain(r.error_code);

    // Events: results as they arrived, and a final progress that adds up.
    const streamed = events.flatMap((e) => (e.type === 'results' ? e.results : []));
    expect(streamed).toHaveLength(rows.length);
    const last = events.filter((e) => e.type === 'progress').at(-1);
    expect(last?.type === 'progress' && last.progress).toMatchObject({ state: 'finished', done: rows.length, failed: summary.failed, totalFinal: true });
    expect(summary.failed).toBe(rows.filter((r) => r.error_code !== '').length);
  });

  it('resumes to the same export without redoing anything, then organises copies', async () => {
    const before = await readFile(path.join(out, 'results.csv'), 'utf8');
    let runs = 0;
    const counting = Object.assign(Object.create(classifier) as Classifier, {
      run: (batch: Float32Array, count: number) => {
        runs++;
        return classifier.run(batch, count);
      },
    });
    // Inside the folder being classified: the walk must leave the copies alone on later runs.
    const dest = path.join(photos, 'zz-sorted');
    const job = await startBatch({
      inputs: [photos],
      classifier: counting,
      out: path.join(out, 'results.csv'),
      top: 3,
      resume: true,
      organize: { dest, minProb: 0.5, labels: classifier.labels },
    });
    const summary = await job.done;
    expect(runs).toBe(0);
    // Everything still there is skipped; the vanished files keep their rows from the first run.
    expect(summary.progress.resumed).toBe(summary.count - vanishing.length);
    expect(await readFile(path.join(out, 'results.csv'), 'utf8')).toBe(before);
    // Every success is copied once (failures are not), below 0.5 into _uncertain, the rest by top-1 label.
    const ok = csvRecords(before).filter((r) => r.error_code === '' && !vanishing.includes(r.path));
    // Files classified before they vanished cannot be copied: reported, not fatal.
    const gone = csvRecords(before).filter((r) => r.error_code === '' && vanishing.includes(r.path));
    expect(summary.organized).toMatchObject({ copied: ok.length, errors: gone.length });
    const copied: string[] = [];
    for (const folder of await readdir(dest)) for (const f of await readdir(path.join(dest, folder))) copied.push(path.join(folder, f));
    expect(copied).toHaveLength(ok.length);
    for (const row of ok) {
      const folder = Number(row.top1_prob) < 0.5 ? '_uncertain' : row.top1_label;
      expect(copied, row.path).toContain(path.join(folder, path.basename(row.path)));
    }
    expect(await readFile(path.join(dest, copied.find((f) => f.endsWith('photo, with comma.jpg')) as string))).toEqual(await readFile(good[6]));
    // Organising again is a no-op.
    const again = await (
      await startBatch({ inputs: [photos], classifier: counting, out: path.join(out, 'results.csv'), top: 3, resume: true, organize: { dest, minProb: 0.5 } })
    ).done;
    expect(again.organized).toMatchObject({ copied: 0, already: ok.length });
    expect(runs).toBe(0);
    expect(again.count).toBe(summary.count);
  });

  it('writes .json and .jsonl with the classify --json objects (main-thread preprocessing)', async () => {
    const files = good.slice(0, 3);
    const jsonl = path.join(out, 'r.jsonl');
    const job = await startBatch({ inputs: files, classifier, out: jsonl, top: 2, preprocessIn: 'main-thread' });
    await job.done;
    const lines = (await readFile(jsonl, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as ClassifyResult);
    expect(lines.map((l) => l.path).sort()).toEqual([...files].sort());
    for (const l of lines) expect(Object.keys(l)).toEqual(['path', 'top', 'model', 'ep', 'ms']);
    const json = path.join(out, 'r.json');
    await (
      await startBatch({ inputs: files, classifier, out: json, top: 2, mode: 'exact', preprocessIn: 'main-thread' })
    ).done;
    const doc = JSON.parse(await readFile(json, 'utf8')) as { mode: string; count: number; results: ClassifyResult[] };
    expect(doc).toMatchObject({ mode: 'exact', count: 3 });
    expect(doc.results.map((r) => r.path)).toEqual(files);
  });
});
