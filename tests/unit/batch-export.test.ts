// Batch exports: CSV quoting that survives any file name, the classify --json objects, path order.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePaths, csvField, csvHeader, csvLine, csvRow, exportFormatOf, exportJournal, resultObject } from '../../src-main/engine/batch/export.js';
import type { ClassifyResult } from '../../src-main/engine/infer/classify-files.js';
import { parseCsv, csvRecords } from '../helpers/csv.js';

const ok = (p: string, prob = 0.5): ClassifyResult => ({
  path: p,
  top: [
    { index: 3, label: 'tiger shark', prob },
    { index: 7, label: 'cock, rooster "the bird"', prob: 1 - prob },
  ],
  model: 'resnet50',
  ep: 'cpu',
  ms: 12.5,
});
const bad = (p: string): ClassifyResult => ({
  path: p,
  error: { code: 'DECODE_FAILED', message: 'JPEG could not be decoded (file is truncated): premature end, "bad"\nline 2' },
});

const header = {
  reslens: 'batch-journal',
  version: 1,
  model: { name: 'resnet50', sha256: 'ab'.repeat(32) },
  mode: 'fast',
  top: 2,
  labelsSha256: 'cd'.repeat(32),
  created: '2026-01-01T00:00:00.000Z',
};
const line = (result: ClassifyResult, size = 10) => JSON.stringify({ path: result.path, size, mtimeMs: 1, result });

describe('batch export', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-export-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('knows formats by extension', () => {
    expect(exportFormatOf('a/results.CSV')).toBe('csv');
    expect(exportFormatOf('r.json')).toBe('json');
    expect(exportFormatOf('r.jsonl')).toBe('jsonl');
    expect(exportFormatOf('r.ndjson')).toBe('jsonl');
    expect(exportFormatOf('r.txt')).toBeUndefined();
    expect(exportFormatOf('results')).toBeUndefined();
  });

  it('quotes CSV fields only when needed, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(' leading')).toBe('" leading"');
    expect(csvField('写真 ünï')).toBe('写真 ünï');
    expect(csvField(undefined)).toBe('');
    expect(csvField(0.25)).toBe('0.25');
  });

  it('round-trips awkward paths and messages through an independent CSV reader', () => {
    const paths = ['/p/plain.jpg', '/p/with, comma.jpg', '/p/quote "q".jpg', '/p/new\nline.jpg', '/p/ünïcödé 写真.jpg', '/p/ space .jpg', '/p/100%#1.jpg'];
    const text = csvLine(csvHeader(2)) + paths.map((p, i) => csvLine(csvRow(i % 2 ? bad(p) : ok(p), 2))).join('');
    const records = csvRecords(text);
    expect(records.map((r) => r.path)).toEqual(paths);
    expect(records[0].top2_label).toBe('cock, rooster "the bird"');
    expect(records[0].top1_prob).toBe('0.5');
    expect(records[0].error_code).toBe('');
    expect(records[1].error_code).toBe('DECODE_FAILED');
    expect(records[1].error_message).toContain('"bad"\nline 2');
    expect(records[1].top1_index).toBe('');
    expect(records[0].precision).toBe('fp32');
    expect(records[1].precision, 'an error has no precision').toBe('');
    expect(parseCsv(text)[0]).toEqual([
      'path',
      'top1_index',
      'top1_label',
      'top1_prob',
      'top2_index',
      'top2_label',
      'top2_prob',
      'model',
      'ep',
      'ms',
      'precision',
      'error_code',
      'error_message',
    ]);
  });

  it('keeps exactly the classify --json keys', () => {
    const extra = { ...ok('/x.jpg'), size: 5, key: 'k' } as unknown as ClassifyResult;
    expect(Object.keys(resultObject(extra))).toEqual(['path', 'top', 'model', 'ep', 'ms']);
    expect(Object.keys(resultObject(bad('/y.jpg')))).toEqual(['path', 'error']);
    expect(Object.keys((resultObject(bad('/y.jpg')) as { error: object }).error)).toEqual(['code', 'message']);
  });

  it('names the precision of every result: a CSV column, a field of the JSON export', async () => {
    const int8 = (p: string): ClassifyResult => ({ ...ok(p), precision: 'int8' });
    expect(csvRecords(csvLine(csvHeader(2)) + csvLine(csvRow(int8('/q/a.jpg'), 2)))[0].precision).toBe('int8');
    const write = async (name: string, results: ClassifyResult[]) => {
      const journal = path.join(dir, `${name}.jsonl`);
      await writeFile(journal, `${[JSON.stringify(header), ...results.map((r) => line(r))].join('\n')}\n`);
      await exportJournal(journal, path.join(dir, `${name}.json`));
      return JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as { precision: string; results: ClassifyResult[] };
    };
    const allInt8 = await write('int8', [int8('/q/a.jpg'), int8('/q/b.jpg'), bad('/q/c.jpg')]);
    expect(allInt8.precision).toBe('int8');
    expect(allInt8.results[0]).toMatchObject({ precision: 'int8' });
    expect((await write('fp32', [ok('/q/a.jpg')])).precision).toBe('fp32');
    // A run resumed at the other precision says so instead of naming one.
    expect((await write('mixed', [ok('/q/a.jpg'), int8('/q/b.jpg')])).precision).toBe('mixed');
    expect((await write('none', [bad('/q/a.jpg')])).precision).toBeNull();
  });

  it('orders paths the way the folder walk does', () => {
    const paths = ['/r/b.jpg', '/r/a.jpg', '/r/a/z.jpg', '/r/a-b/c.jpg', '/r/A.jpg', '/r/a/b/c.jpg'];
    expect([...paths].sort(comparePaths)).toEqual(['/r/A.jpg', '/r/a/b/c.jpg', '/r/a/z.jpg', '/r/a-b/c.jpg', '/r/a.jpg', '/r/b.jpg']);
  });

  it('exports a journal: latest record per path, torn tail ignored, in every format', async () => {
    const journal = path.join(dir, 'j.jsonl');
    const lines = [
      JSON.stringify(header),
      JSON.stringify({ session: { started: 'x', inputs: [], resumed: false } }),
      line(bad('/r/b.jpg')),
      line(ok('/r/a.jpg')),
      line(ok('/r/b.jpg', 0.9)),
      'not json at all',
      line(ok('/r/c, d.jpg')),
    ];
    await writeFile(journal, `${lines.join('\n')}\n{"path":"/r/torn.jpg","si`);

    const csv = await exportJournal(journal, path.join(dir, 'out.csv'));
    expect(csv).toMatchObject({ format: 'csv', count: 3, failed: 0 });
    const records = csvRecords(await readFile(path.join(dir, 'out.csv'), 'utf8'));
    expect(records.map((r) => r.path)).toEqual(['/r/a.jpg', '/r/b.jpg', '/r/c, d.jpg']);
    expect(records[1].top1_prob).toBe('0.9');

    await exportJournal(journal, path.join(dir, 'out.json'));
    const json = JSON.parse(await readFile(path.join(dir, 'out.json'), 'utf8')) as {
      results: ClassifyResult[];
      count: number;
      failed: number;
      model: string;
      ep: string;
    };
    expect(json).toMatchObject({ count: 3, failed: 0, model: 'resnet50', ep: 'cpu' });
    expect(json.results.map((r) => r.path)).toEqual(['/r/a.jpg', '/r/b.jpg', '/r/c, d.jpg']);

    await exportJournal(journal, path.join(dir, 'out.jsonl'));
    const jsonl = (await readFile(path.join(dir, 'out.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as ClassifyResult);
    // Journal order (latest record's position), each path once.
    expect(jsonl.map((r) => r.path)).toEqual(['/r/a.jpg', '/r/b.jpg', '/r/c, d.jpg']);
    expect(jsonl[1]).toEqual(ok('/r/b.jpg', 0.9));
  });
});
