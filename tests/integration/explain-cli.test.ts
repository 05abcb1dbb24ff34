// `reslens explain` end to end: real processes, real files, the reference model; the output contract
// (files, shapes, per-class folders, summary.json), agreement with PyTorch from the photo file, label
// lookup, faithfulness in the summary, and hostile or careless input.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src-main/engine/model/onnx-proto.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { runCli } from '../helpers/cli.js';
import { cosine, relativeL2 } from '../helpers/compare.js';
import { readNpy } from '../helpers/npy.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata } from '../helpers/testdata.js';

const STAGES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'];
const CONTRACT = [...STAGES.flatMap((s) => [`grad-${s}.npy`, `gradcam-${s}.npy`]), 'input-grad.npy', 'guided-input-grad.npy', 'summary.json'];

interface ClassSummary {
  index: number;
  label: string;
  score: number;
  methods: string[];
  files: string[];
  timings: Record<string, number>;
  faithfulness?: Record<string, { deletionAuc: number; insertionAuc: number; deletion: number[] }>;
}

describe('reslens explain', () => {
  let folder: string;
  let env: NodeJS.ProcessEnv;
  let fixture: string;
  let photo: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-explain-cli-'));
    env = { RESLENS_MODELS_DIR: path.join(folder, 'store'), XDG_CACHE_HOME: path.join(folder, 'cache') };
    fixture = await ensureFixture({ depth: 18, bn: 'folded' });
    photo = path.join(folder, 'photo.jpg');
    await writeFile(photo, await photoLike(400, 300, 'jpeg', 9));
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it.runIf(hasTestdata)('two classes of the kite: one folder each with the contract files, equal to PyTorch autograd', { timeout: 300_000 }, async () => {
    const out = path.join(folder, 'kite');
    const run = await runCli(
      [
        'explain',
        path.join(TESTDATA, 'images', 'kite_by_Risto_Saukonpaa.jpg'),
        '--model',
        REFERENCE_MODEL,
        '--out',
        out,
        '--class',
        '376',
        '--class',
        'Impala',
        '--method',
        'gradcam,layercam',
        '--method',
        'saliency',
        '--json',
      ],
      { env, timeoutMs: 300_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { classes: (ClassSummary & { folder: string })[] };
    expect(summary.classes.map((c) => c.index)).toEqual([376, 352]);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).classes.map((c: { folder: string }) => c.folder)).toEqual(['376', '352']);
    for (const c of [376, 352]) {
      const dir = path.join(out, String(c));
      const files = await readdir(dir);
      for (const f of [...CONTRACT, 'gradcam-layer2.png', 'layercam-stem.png', 'saliency.png', 'input.png']) expect(files, `${c}: ${f}`).toContain(f);
      const perClass = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as ClassSummary;
      expect(perClass.index).toBe(c);
      expect(perClass.methods).toEqual(['gradcam', 'layercam', 'saliency']);
      expect(perClass.files.sort()).toEqual(files.sort());
      // Our preprocessing reproduces PyTorch's input bit for bit, so the photo file gives the references.
      const ref = path.join(TESTDATA, 'ref', 'kite_by_Risto_Saukonpaa', 'explain', `class-${c}`);
      const layer4 = readNpy(path.join(dir, 'grad-layer4.npy'));
      expect(layer4.shape).toEqual([2048, 7, 7]);
      expect(relativeL2(layer4.data, readNpy(path.join(ref, 'grad-layer4.npy')).data)).toBeLessThan(1e-4);
      for (const s of STAGES) {
        const cam = readNpy(path.join(dir, `gradcam-${s}.npy`));
        expect(cam.shape.length, s).toBe(2);
        expect(cosine(cam.data, readNpy(path.join(ref, `gradcam-${s}.npy`)).data), s).toBeGreaterThan(0.9999);
      }
      expect(readNpy(path.join(dir, 'input-grad.npy')).shape).toEqual([3, 224, 224]);
      expect(relativeL2(readNpy(path.join(dir, 'guided-input-grad.npy')).data, readNpy(path.join(ref, 'guided-input-grad.npy')).data)).toBeLessThan(5e-4);
    }
  });

  it('one class: DIR itself; faithfulness AUCs in summary.json; plain-text output', { timeout: 300_000 }, async () => {
    const out = path.join(folder, 'single');
    const run = await runCli(['explain', photo, '--model', fixture, '--out', out, '--class', '7', '--method', 'gradcam,guided-gradcam', '--faithfulness'], {
      env,
      timeoutMs: 300_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^7 class 7|^7 /);
    const files = await readdir(out);
    for (const f of [...CONTRACT, 'gradcam-layer4.png', 'guided-gradcam.png', 'guided-gradcam.npy']) expect(files).toContain(f);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as ClassSummary;
    expect(summary.index).toBe(7);
    for (const m of ['gradcam', 'guided-gradcam']) {
      const f = summary.faithfulness![m];
      expect(f.deletion).toHaveLength(17);
      expect(f.deletionAuc).toBeGreaterThanOrEqual(0);
      expect(f.insertionAuc).toBeLessThanOrEqual(1);
    }
    expect(readNpy(path.join(out, 'grad-layer4.npy')).shape).toEqual([512, 7, 7]);
  });

  it('usage errors exit 2; ambiguous or unknown labels, a pipe and an unsupported model exit 1 with a clear message', { timeout: 300_000 }, async () => {
    for (const args of [
      ['explain', photo],
      ['explain', photo, '--out', folder, '--method', 'magic'],
    ]) {
      const run = await runCli(args, { env });
      expect(run.code, args.join(' ')).toBe(2);
    }
    const labels = path.join(folder, 'labels.txt');
    await writeFile(labels, Array.from({ length: 1000 }, (_, i) => (i < 2 ? `red fox ${i}` : `thing ${i}`)).join('\n'));
    const ambiguous = await runCli(['explain', photo, '--model', fixture, '--labels', labels, '--out', path.join(folder, 'x'), '--class', 'red fox'], { env });
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/INVALID_ARGUMENT.*matches 2 classes/);
    const unknown = await runCli(['explain', photo, '--model', fixture, '--labels', labels, '--out', path.join(folder, 'x'), '--class', 'zebra'], { env });
    expect(unknown.stderr).toMatch(/no class is called "zebra"/);

    const fifo = path.join(folder, 'pipe.jpg');
    execFileSync('mkfifo', [fifo]);
    const piped = await runCli(['explain', fifo, '--model', fixture, '--out', path.join(folder, 'p')], { env, timeoutMs: 120_000 });
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/NOT_AN_IMAGE/);

    const model = decodeModel(readFileSync(fixture));
    model.graph.node.push({
      opType: 'Softmax',
      name: 'probabilities',
      input: [model.graph.output[0].name],
      output: ['probs'],
      attribute: [{ name: 'axis', type: 2, i: 1 }],
    });
    model.graph.output = [{ ...model.graph.output[0], name: 'probs' }];
    const softmax = path.join(folder, 'softmax.onnx');
    await writeFile(softmax, encodeModel(model));
    const refused = await runCli(['explain', photo, '--model', softmax, '--out', path.join(folder, 's')], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/GRADIENTS_UNSUPPORTED.*Softmax/);
  });

  it('a symbolic link planted in the output folder is replaced, not written through', { timeout: 300_000 }, async () => {
    const out = path.join(folder, 'planted');
    await mkdir(out);
    const victim = path.join(folder, 'victim.txt');
    await writeFile(victim, 'keep me');
    await symlink(victim, path.join(out, 'summary.json'));
    await symlink(victim, path.join(out, 'grad-layer4.npy'));
    const run = await runCli(['explain', photo, '--model', fixture, '--out', out], { env, timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(path.join(out, 'summary.json')).isSymbolicLink()).toBe(false);
    expect(readNpy(path.join(out, 'grad-layer4.npy')).shape).toEqual([512, 7, 7]);
    expect(existsSync(path.join(out, 'saliency.png'))).toBe(true);
  });
});
