// Paths and facts of the shared reference data (../shared/testdata beside the checkout).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const TESTDATA = process.env.RESLENS_TESTDATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'testdata');
export const REFERENCE_MODEL = path.join(TESTDATA, 'models', 'resnet50.onnx');
export const hasTestdata = existsSync(REFERENCE_MODEL);

export interface ReferenceImage {
  name: string;
  file: string;
  top5: number[];
  top1Margin: number;
  top5BoundaryGap: number;
}

export function referenceImages(): ReferenceImage[] {
  const folder = path.join(TESTDATA, 'images');
  return readdirSync(folder)
    .filter((f) => !f.endsWith('.md'))
    .sort()
    .map((f) => {
      const name = f.replace(/\.[^.]+$/, '');
      const top5 = JSON.parse(readFileSync(path.join(TESTDATA, 'ref', name, 'top5.json'), 'utf8')) as {
        top5: number[];
        top1_margin: number;
        top5_boundary_gap: number;
      };
      return { name, file: path.join(folder, f), top5: top5.top5, top1Margin: top5.top1_margin, top5BoundaryGap: top5.top5_boundary_gap };
    });
}

export function imagenetLabels(): string[] {
  return readFileSync(path.join(TESTDATA, 'imagenet_classes.txt'), 'utf8').trimEnd().split('\n');
}
