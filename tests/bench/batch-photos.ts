// The benchmark's photo folders, generated once and cached under .cache/ (git-ignored):
// ≥ 200 small (~0.5 MP, phone-share size) and ≥ 80 large (10–20 MP, camera size) photo-like JPEGs.
import path from 'node:path';
import { ensurePhotoSet } from '../helpers/photos.js';
import { REPO_ROOT } from '../helpers/testdata.js';

export const BATCH_PHOTO_DIR = path.join(REPO_ROOT, '.cache', 'bench-batch');

const SMALL_SIZES = [
  { width: 900, height: 600 },
  { width: 864, height: 576 },
  { width: 600, height: 800 },
  { width: 816, height: 612 },
];
// 12, 16, 20 and 24 MP-class camera frames (3:2 and 4:3), some portrait.
const LARGE_SIZES = [
  { width: 4000, height: 3000 },
  { width: 4608, height: 3456 },
  { width: 5472, height: 3648 },
  { width: 3456, height: 4608 },
  { width: 4896, height: 3264 },
];

export async function benchPhotoSets(
  options: { small?: number; large?: number } = {},
): Promise<{ smallDir: string; largeDir: string; small: string[]; large: string[] }> {
  const smallDir = path.join(BATCH_PHOTO_DIR, 'small');
  const largeDir = path.join(BATCH_PHOTO_DIR, 'large');
  const small = await ensurePhotoSet({
    folder: smallDir,
    count: options.small ?? 200,
    seedBase: 10_000,
    size: (i) => SMALL_SIZES[i % SMALL_SIZES.length],
    quality: (i) => 82 + (i % 4) * 3,
  });
  const large = await ensurePhotoSet({
    folder: largeDir,
    count: options.large ?? 80,
    seedBase: 20_000,
    size: (i) => LARGE_SIZES[i % LARGE_SIZES.length],
    quality: (i) => 88 + (i % 3) * 2,
    // Every seventh is stored sideways with an EXIF orientation, as phones do.
    orientation: (i) => (i % 7 === 3 ? 6 : 1),
  });
  return { smallDir, largeDir, small, large };
}
