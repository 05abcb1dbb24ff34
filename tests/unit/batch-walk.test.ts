// The folder walk behind batch runs: content sniffing, hidden and system files, symlink options,
// excluded folders, and the counting walk that gives progress its total early.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountProgress, countInputs, walkInputs } from '../../src-main/engine/batch/walk.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('batch walk', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-walk-'));
    const jpeg = await photoLike(32, 32, 'jpeg');
    const files: Record<string, Buffer | string> = {
      'a.jpg': jpeg,
      'IMG_0001.JPG_original': jpeg, // image by content, odd extension
      'exported-without-extension': jpeg,
      'notes.txt': 'text',
      'fake.png': 'text named .png', // image extension: listed, refused later by content
      'drawing.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
      '.hidden.jpg': jpeg,
      'desktop.ini': '[.ShellClassInfo]',
      'Thumbs.db': 'x',
      '.git/objects.jpg': jpeg,
      '@eaDir/a.jpg/SYNOFILE_THUMB_M.jpg': jpeg,
      '$RECYCLE.BIN/deleted.jpg': jpeg,
      'sub/b.jpg': jpeg,
      'sorted/cat/a.jpg': jpeg,
      'outside/c.jpg': jpeg,
    };
    for (const [rel, data] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, 'in', rel)), { recursive: true });
      await writeFile(path.join(root, 'in', rel), data);
    }
    await symlink(path.join(root, 'in', 'outside'), path.join(root, 'in', 'linked'));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  const walk = async (options: Parameters<typeof walkInputs>[1] = {}) => {
    const found: string[] = [];
    for await (const item of walkInputs([path.join(root, 'in')], options)) found.push(path.relative(path.join(root, 'in'), item.path));
    return found;
  };

  it('lists images by content and extension, skipping hidden and system files', async () => {
    expect(await walk()).toEqual([
      'IMG_0001.JPG_original',
      'a.jpg',
      'exported-without-extension',
      'fake.png',
      path.join('linked', 'c.jpg'), // the link sorts first; the real folder is then not walked a second time
      path.join('sorted', 'cat', 'a.jpg'),
      path.join('sub', 'b.jpg'),
    ]);
  });

  it('includes hidden and system files when asked', async () => {
    const found = await walk({ includeHidden: true });
    expect(found).toContain('.hidden.jpg');
    expect(found).toContain(path.join('.git', 'objects.jpg'));
    expect(found).toContain(path.join('@eaDir', 'a.jpg', 'SYNOFILE_THUMB_M.jpg'));
    expect(found).not.toContain('desktop.ini'); // not an image either way
  });

  it('skips symbolic links when told not to follow them, and excluded folders', async () => {
    const found = await walk({ followSymlinks: false, exclude: [path.join(root, 'in', 'sorted')] });
    expect(found).not.toContain(path.join('linked', 'c.jpg'));
    expect(found).toContain(path.join('outside', 'c.jpg'));
    expect(found.some((f) => f.startsWith('sorted'))).toBe(false);
  });

  it('counts ahead, reporting as it goes and once at the end', async () => {
    const reports: CountProgress[] = [];
    const count = await countInputs([path.join(root, 'in')], { intervalMs: 0, onCount: (p) => reports.push(p) });
    expect(count).toBe(7);
    expect(reports.at(-1)).toEqual({ count: 7, final: true });
    expect(reports.filter((r) => !r.final).length).toBeGreaterThan(0);
  });

  it('walks a folder given twice only once', async () => {
    const found: string[] = [];
    for await (const item of walkInputs([path.join(root, 'in', 'sub'), path.join(root, 'in', 'sub')])) found.push(item.path);
    expect(found).toHaveLength(1);
  });
});
