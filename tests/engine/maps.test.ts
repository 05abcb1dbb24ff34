// Maps (issue 15): receptive fields from the stage chain (against the seeds' stage table and a hand
// computation), the value-to-photo box, and the HTML report (escaping a hostile label, one image per
// stage, no script), through the engine and through `reslens report`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receptiveFieldBox } from '../../src-main/api/receptive-field.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { describeModel } from '../../src-main/engine/model/inspect.js';
import { INPUT_FIELD, extendField } from '../../src-main/engine/model/receptive-field.js';
import { discoverStages } from '../../src-main/engine/model/stages.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { buildHtmlReport, escapeHtml } from '../../src-main/engine/report/html-report.js';
import { makeReport } from '../../src-main/engine/report/make-report.js';
import { ensureFixture } from '../fixtures/generate.js';
import { buildResNet } from '../fixtures/resnet-graph.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const SEEDS = path.resolve(REPO_ROOT, '..', 'shared', 'seeds', '001_7576d17e1a53b58e.txt');

/** The seeds' stage table (He et al., Table 1 as the article reprints it): blocks per stage and output size, per depth column. */
function seedTable(): { stage: string; size: number; blocks: Record<number, number> }[] {
  const text = readFileSync(SEEDS, 'utf8');
  const rows: { stage: string; size: number; blocks: Record<number, number> }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(conv[2-5]_x)\t(\d+)×\d+\t(.*)$/.exec(line);
    if (!m) continue;
    const cells = m[3].split('\t');
    const times = (cell: string) => Number(/\\times (\d+)\$\s*$/.exec(cell)?.[1]);
    rows.push({
      stage: m[1],
      size: Number(m[2]),
      blocks: { 18: times(cells[0]), 34: times(cells[1]), 50: times(cells[2]), 101: times(cells[3]), 152: times(cells[4]) },
    });
  }
  return rows;
}

/** Hand chain from the table: conv1 7×7/2 (pad 3), 3×3 max pool/2 (pad 1), then each block's convs, stride 2 on the first block's 3×3 of conv3_x..conv5_x (torchvision). */
function handFields(blocks: number[], bottleneck: boolean): number[] {
  let field = extendField(INPUT_FIELD, [
    { kernel: 7, stride: 2, pad: 3 },
    { kernel: 3, stride: 2, pad: 1 },
  ]);
  const sizes = [field.size];
  blocks.forEach((n, stage) => {
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const convs = bottleneck
        ? [
            { kernel: 1, stride: 1, pad: 0 },
            { kernel: 3, stride, pad: 1 },
            { kernel: 1, stride: 1, pad: 0 },
          ]
        : [
            { kernel: 3, stride, pad: 1 },
            { kernel: 3, stride: 1, pad: 1 },
          ];
      field = extendField(field, convs);
    }
    sizes.push(field.size);
  });
  return sizes;
}

describe('receptive fields', () => {
  it('by hand: ResNet-50 sees 11, 35, 91, 267, 427 pixels; ResNet-18 11, 43, 99, 211, 435', () => {
    expect(handFields([3, 4, 6, 3], true)).toEqual([11, 35, 91, 267, 427]);
    expect(handFields([2, 2, 2, 2], false)).toEqual([11, 43, 99, 211, 435]);
  });

  it.skipIf(!existsSync(SEEDS))("the engine's chain matches the seeds' stage table for every depth", () => {
    const table = seedTable();
    expect(table.map((r) => r.stage)).toEqual(['conv2_x', 'conv3_x', 'conv4_x', 'conv5_x']);
    expect(table.map((r) => r.size)).toEqual([56, 28, 14, 7]);
    for (const depth of [18, 34, 50, 101, 152] as const) {
      const blocks = table.map((r) => r.blocks[depth]);
      const graph = buildResNet({ depth, bn: 'folded' });
      const map = discoverStages(graph.model, describeModel(`resnet${depth}`, graph.model, 0, ''));
      expect(
        map.stages.slice(1).map((s) => s.blocks),
        `resnet${depth} blocks`,
      ).toEqual(blocks);
      expect(
        map.stages.slice(1).map((s) => s.shape[1]),
        `resnet${depth} sizes`,
      ).toEqual(table.map((r) => r.size));
      expect(
        map.stages.map((s) => s.receptiveField.size),
        `resnet${depth}`,
      ).toEqual(handFields(blocks, depth >= 50));
      expect(map.stages.map((s) => s.receptiveField.jump)).toEqual([4, 4, 8, 16, 32]);
    }
  });

  it('pre-activation (v2) graphs have the same fields as v1', () => {
    const v2 = buildResNet({ depth: 50, variant: 'v2', bn: 'explicit' });
    const map = discoverStages(v2.model, describeModel('v2', v2.model, 0, ''));
    expect(map.stages.map((s) => s.receptiveField.size)).toEqual([11, 35, 91, 267, 427]);
  });

  it("a map position's box in the input: centred on start + x·jump, clipped at the border", () => {
    const conv5 = { size: 427, jump: 32, start: 0.5 };
    const corner = receptiveFieldBox(conv5, 0, 0, { width: 224, height: 224 });
    expect(corner).toEqual({ left: 0, top: 0, right: 214, bottom: 214, clipped: true });
    const stem = { size: 11, jump: 4, start: 0.5 };
    expect(receptiveFieldBox(stem, 10, 20, { width: 224, height: 224 })).toEqual({ left: 35, top: 75, right: 46, bottom: 86, clipped: false });
  });
});

const HOSTILE = '</td><script>alert("label")</script><img src=x onerror=alert(1)>';

describe('HTML report', () => {
  it('escapes every label and the file name (a hostile label cannot add markup)', () => {
    const png = { mime: 'image/png' as const, data: new Uint8Array([137, 80, 78, 71]) };
    const html = buildHtmlReport({
      fileName: '"><script>alert(2)</script>.jpg',
      model: { name: 'm<b>', pretrained: false },
      ep: 'cpu',
      ms: 12,
      createdAt: new Date(0),
      photo: png,
      top: [{ label: HOSTILE, prob: 0.5, index: 3 }],
      stages: [{ name: 'stem', paperName: 'conv1', shape: [64, 56, 56], blocks: 0, stats: { mean: 1, max: 2, zeroFraction: 0.5 }, note: 'a & b', image: png }],
      cams: [{ label: HOSTILE, prob: 0.5, logit: 1, image: png }],
      legend: '<legend>',
    });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img src=x/i);
    expect(html).not.toContain('<b>');
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('not known to be ImageNet-trained');
  });

  describe('from a real run', () => {
    let dir: string;
    let classifier: Classifier;
    let photo: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-report-'));
      const model = await ensureFixture({ depth: 18, bn: 'folded' });
      // A model whose labels file is hostile (a model author controls it).
      const labels = Array.from({ length: 1000 }, (_, i) => `${HOSTILE} ${i}`);
      await writeFile(path.join(dir, 'labels.txt'), labels.join('\n'));
      classifier = await Classifier.load({ name: 'hostile', modelPath: model, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu' });
      photo = path.join(dir, '<photo>.jpg');
      await writeFile(photo, await photoLike(320, 240, 'jpeg', 4));
    }, 120_000);
    afterAll(async () => {
      await classifier?.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('one self-contained file: photo, top-5, one image per stage, the CAMs; nothing fetched, no script', async () => {
      const report = await makeReport(classifier, photo);
      const html = report.html;
      expect(html).not.toMatch(/<script/i);
      expect(html).not.toMatch(/src="(?!data:)/);
      const images = [...html.matchAll(/<img [^>]*src="data:image\/(png|jpeg);base64,[A-Za-z0-9+/=]+"/g)];
      expect(images).toHaveLength(1 + 5 + report.cams);
      expect(report.cams).toBe(5);
      expect([...html.matchAll(/<figure class="stage" data-stage="(\w+)"/g)].map((m) => m[1])).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
      for (const t of report.top) expect(html).toContain(`<td class="label">${escapeHtml(t.label)}</td>`);
      expect(html).toContain('&lt;photo&gt;.jpg');
      expect(html).toContain('receptive field 435×435 px');
    });

    it('reslens report writes the same kind of file, with --json', async () => {
      const out = path.join(dir, 'report.html');
      const run = await runCli([
        'report',
        photo,
        '--model',
        await ensureFixture({ depth: 18, bn: 'folded' }),
        '--labels',
        path.join(dir, 'labels.txt'),
        '--ep',
        'cpu',
        '--out',
        out,
        '--json',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout.trim()) as { out: string; top: { label: string }[]; stages: string[]; cams: number };
      expect(summary.stages).toHaveLength(5);
      expect(summary.top).toHaveLength(5);
      const html = await readFile(out, 'utf8');
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain(escapeHtml(summary.top[0].label));
      // A careless --out: the photo itself is refused, and left as it was.
      const before = await readFile(photo);
      const same = await runCli(['report', photo, '--model', 'x', '--out', photo]);
      expect(same.code).toBe(2);
      expect(same.stderr).toContain('input photo');
      expect(await readFile(photo)).toEqual(before);
    }, 120_000);
  });
});
