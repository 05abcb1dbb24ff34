// `reslens blocks`, `classify --drop-blocks/--scale-blocks` and `reslens lesion` end to end: the
// real CLI in child processes, the reference model and photos, a study killed with SIGKILL midway
// and resumed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';
import { readNpy } from '../helpers/npy.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA, hasTestdata, referenceImages } from '../helpers/testdata.js';
import { tinyClassifier } from '../helpers/tiny-models.js';

interface BlocksJson {
  model: string;
  blocks: Record<string, unknown>[];
}
interface ClassifyLine {
  path: string;
  top: { index: number; label: string; prob: number }[];
}
const BLOCK_KEYS = ['id', 'stage', 'index', 'downsample', 'inputNorm', 'residualNorm', 'shortcutNorm', 'outputNorm'];
const NORMS = ['inputNorm', 'residualNorm', 'shortcutNorm', 'outputNorm'] as const;

async function journaledPaths(file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const paths = new Set<string>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    try {
      const value = JSON.parse(line) as { path?: string; result?: unknown };
      if (value.path && value.result) paths.add(value.path);
    } catch {
      // torn last line after SIGKILL
    }
  }
  return paths.size;
}

describe.runIf(hasTestdata)('block lens CLI', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const images = hasTestdata ? referenceImages() : [];
  const byName = (name: string) => images.find((i) => i.name === name) as (typeof images)[number];
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-blocks-cli-'));
    env = { RESLENS_MODELS_DIR: path.join(root, 'models'), XDG_CACHE_HOME: path.join(root, 'cache') };
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('blocks --json prints the contract object, equal to PyTorch within 1e-4 from the photo file', async () => {
    const flower = byName('flower');
    const run = await runCli(['blocks', flower.file, '--model', REFERENCE_MODEL, '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const [out] = jsonLines<BlocksJson>(run.stdout);
    expect(Object.keys(out)).toEqual(['model', 'blocks']);
    const reference = (JSON.parse(readFileSync(path.join(TESTDATA, 'ref', 'flower', 'blocks.json'), 'utf8')) as BlocksJson).blocks;
    expect(out.blocks).toHaveLength(16);
    out.blocks.forEach((block, k) => {
      expect(Object.keys(block)).toEqual(BLOCK_KEYS);
      expect([block.id, block.stage, block.index, block.downsample]).toEqual([
        reference[k].id,
        reference[k].stage,
        reference[k].index,
        reference[k].downsample,
      ]);
      for (const key of NORMS)
        expect(Math.abs((block[key] as number) / (reference[k][key] as number) - 1), `${String(block.id)} ${key}`).toBeLessThanOrEqual(1e-4);
    });
    // The table form marks projections and strides.
    const table = await runCli(['blocks', flower.file, '--model', REFERENCE_MODEL, '--drop-blocks', 'layer3.1'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/layer2\.0\s+P↓/);
    expect(table.stdout).toMatch(/layer3\.1 .*0\.000 .*\(removed\)/);
  });

  it("classify --drop-blocks keeps the classify contract and gives PyTorch's lesioned top-5; --scale-blocks 0 is the same network", async () => {
    const names = ['kite_by_Risto_Saukonpaa', 'china_orient6', 'flower'];
    const files = names.map((n) => byName(n).file);
    const dropped = await runCli(['classify', ...files, '--model', REFERENCE_MODEL, '--json', '--drop-blocks', 'layer1.1,layer2.2,layer3.4'], { env });
    const scaled = await runCli(
      ['classify', ...files, '--model', REFERENCE_MODEL, '--json', '--scale-blocks', 'layer1.1=0,layer2.2=0', '--drop-blocks', 'layer3.4'],
      { env },
    );
    const plain = await runCli(['classify', ...files, '--model', REFERENCE_MODEL, '--json'], { env });
    expect(dropped.code, dropped.stderr).toBe(0);
    const lines = jsonLines<ClassifyLine>(dropped.stdout);
    for (const [i, line] of lines.entries()) {
      expect(Object.keys(line).sort()).toEqual(['ep', 'model', 'ms', 'path', 'timings', 'top']);
      const lesions = JSON.parse(readFileSync(path.join(TESTDATA, 'ref', names[i], 'lesions.json'), 'utf8')) as {
        lesions: { drop: string[]; top5: number[]; logits: string }[];
      };
      const reference = lesions.lesions.find((l) => l.drop.join() === 'layer1.1,layer2.2,layer3.4');
      if (!reference) throw new Error('reference lesion missing');
      // Compare the top-5 set where the reference's 5th and 6th logits are apart (decoders round differently).
      const logits = [...readNpy(path.join(TESTDATA, 'ref', names[i], reference.logits)).data].sort((a, b) => b - a);
      if (logits[4] - logits[5] >= 0.25) expect(new Set(line.top.map((t) => t.index))).toEqual(new Set(reference.top5));
      if (logits[0] - logits[1] >= 0.25) expect(line.top[0].index).toBe(reference.top5[0]);
    }
    expect(jsonLines<ClassifyLine>(scaled.stdout).map((l) => l.top)).toEqual(lines.map((l) => l.top));
    // The lesion changes the answer somewhere: the flags are not ignored.
    expect(jsonLines<ClassifyLine>(plain.stdout).map((l) => l.top.map((t) => t.index).join())).not.toEqual(lines.map((l) => l.top.map((t) => t.index).join()));
  });

  it('unknown ids, bad scales and models without residual blocks exit 2 listing the valid ids', async () => {
    const file = byName('flower').file;
    const tiny = path.join(root, 'tiny.onnx');
    await writeFile(tiny, tinyClassifier(1000));
    const cases: [string[], RegExp][] = [
      [['blocks', file, '--model', REFERENCE_MODEL, '--drop-blocks', 'layer5.0'], /unknown block id layer5\.0; this model's blocks are layer1\.0, .*layer4\.2/],
      [['classify', file, '--model', REFERENCE_MODEL, '--drop-blocks', 'layer4.3'], /unknown block id layer4\.3; .*layer4\.2/],
      [['classify', file, '--model', REFERENCE_MODEL, '--scale-blocks', 'layer2.0=9'], /outside 0\.\.4/],
      [['classify', file, '--model', REFERENCE_MODEL, '--scale-blocks', 'layer2.0'], /not id=scale/],
      [['classify', file, '--model', REFERENCE_MODEL, '--drop-blocks', 'layer2.0', '--scale-blocks', 'layer2.0=0.5'], /both --drop-blocks and --scale-blocks/],
      [
        ['lesion', path.dirname(file), '--model', REFERENCE_MODEL, '--out', path.join(root, 'x.csv'), '--blocks', 'stem.0'],
        /unknown block id stem\.0; .*layer1\.0/,
      ],
      [['lesion', path.dirname(file), '--model', REFERENCE_MODEL, '--out', path.join(root, 'x.txt')], /use \.csv or \.json/],
      [['blocks', file, '--model', tiny], /residual blocks unavailable: .*valid block ids: none/],
      [['classify', file, '--model', tiny, '--drop-blocks', 'layer1.0'], /residual blocks unavailable: .*valid block ids: none/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, { env });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('lesion: the study table agrees with classify --drop-blocks image by image, and survives kill -9 and --resume', async () => {
    // 20 photos (the 10 references twice under other names), batches of 2: a kill lands mid-study.
    const folder = path.join(root, 'photos');
    await mkdir(folder, { recursive: true });
    for (const image of images) {
      await copyFile(image.file, path.join(folder, `a-${path.basename(image.file)}`));
      await copyFile(image.file, path.join(folder, `b-${path.basename(image.file)}`));
    }
    const blocks = 'layer2.0,layer4.2';
    const out = path.join(root, 'killed', 'study.csv');
    const journal = `${out}.reslens-journal.jsonl`;
    // --exact: decoded like classify, so the comparison below holds image for image.
    const args = ['lesion', folder, '--model', REFERENCE_MODEL, '--out', out, '--blocks', blocks, '--batch', '2', '--exact'];
    await mkdir(path.dirname(out), { recursive: true });
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'reslens.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && child.exitCode === null && (await journaledPaths(journal)) < 6) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = await journaledPaths(journal);
    expect(before).toBeGreaterThanOrEqual(6);
    expect(before).toBeLessThan(20);
    expect(existsSync(out)).toBe(false);

    // Without --resume an unfinished study is refused; with it, the rest is done.
    const refused = await runCli(args, { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--resume/);
    const resumed = await runCli([...args, '--resume'], { env, timeoutMs: 180_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`\\(${before} done in an earlier run\\)`));
    const rows = parseCsv(await readFile(out, 'utf8'));
    expect(rows[0]).toEqual(['block', 'stage', 'index', 'downsample', 'stride', 'images', 'top1_agreement', 'mean_top1_prob_drop']);
    expect(rows.slice(1).map((r) => [r[0], r[3], r[4], r[5]])).toEqual([
      ['layer2.0', 'true', '2', '20'],
      ['layer4.2', 'false', '1', '20'],
    ]);

    // Independently: the same agreement from classify with and without the block, image by image.
    const plain = jsonLines<ClassifyLine>((await runCli(['classify', folder, '--model', REFERENCE_MODEL, '--json'], { env })).stdout);
    for (const [k, block] of blocks.split(',').entries()) {
      const lesioned = jsonLines<ClassifyLine>(
        (await runCli(['classify', folder, '--model', REFERENCE_MODEL, '--json', '--top', '1000', '--drop-blocks', block], { env })).stdout,
      );
      expect(lesioned.map((l) => l.path)).toEqual(plain.map((l) => l.path));
      const agree = lesioned.filter((l, i) => l.top[0].index === plain[i].top[0].index).length / plain.length;
      const drop =
        lesioned.reduce((sum, l, i) => sum + plain[i].top[0].prob - (l.top.find((t) => t.index === plain[i].top[0].index)?.prob ?? NaN), 0) / plain.length;
      expect(Number(rows[k + 1][6])).toBeCloseTo(agree, 5);
      expect(Number(rows[k + 1][7])).toBeCloseTo(drop, 4);
    }
    // Seven CLI runs over ResNet-50 (a study, a kill, a refusal, a resume, three classifies): within
    // the suite's 120 s default in CI, 120.7 s at load average 14 on the 2-core machine.
  }, 300_000);
});
