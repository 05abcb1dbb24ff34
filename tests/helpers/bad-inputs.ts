// Builds the bad-input set on disk: every file is real (made with sharp or by hand at byte level),
// each paired with what ResLens must say about it.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export interface BadInputCase {
  /** Path relative to the set's folder. */
  file: string;
  /** An error code, or 'ok' for files that must classify (sensibly) despite being odd. */
  expect: string;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A PNG whose header claims width×height but carries almost no data: a decompression bomb. */
export function pngHeaderBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A photo-like test image (smooth gradients plus noise), deterministic. */
export async function photoLike(width: number, height: number, format: 'jpeg' | 'png', seed = 1): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const noise = (s >>> 24) % 32;
      const i = (y * width + x) * 3;
      data[i] = ((x * 255) / width) * 0.8 + noise;
      data[i + 1] = ((y * 255) / height) * 0.8 + noise;
      data[i + 2] = ((x + y) % 64) * 3 + noise;
    }
  }
  const image = sharp(data, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? image.jpeg({ quality: 90 }).toBuffer() : image.png().toBuffer();
}

export async function writeBadInputSet(folder: string): Promise<BadInputCase[]> {
  await mkdir(folder, { recursive: true });
  const jpeg = await photoLike(640, 480, 'jpeg');
  const png = await photoLike(320, 240, 'png', 2);
  const write = (file: string, data: Buffer | string) => writeFile(path.join(folder, file), data);

  await write('good.jpg', jpeg);
  await write('empty.jpg', Buffer.alloc(0));
  await write('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
  await write('truncated.png', png.subarray(0, Math.floor(png.length * 0.5)));
  let seed = 99;
  await write('random-bytes.jpg', Buffer.from(Array.from({ length: 4096 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff)));
  await write('notes.jpg', 'Shopping list: milk, eggs, a better camera.\n');
  await write('bomb-50000x50000.png', pngHeaderBomb(50000, 50000));
  await write('vector.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50" cy="50" r="40"/></svg>');
  await write('svg-named.png', '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>');
  await write('document.pdf', '%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');
  await write(
    'one-pixel.png',
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c04020' } })
      .png()
      .toBuffer(),
  );
  await write(
    'strip-10000x10.png',
    await sharp({ create: { width: 10000, height: 10, channels: 3, background: '#2060a0' } })
      .png()
      .toBuffer(),
  );
  await write(
    'transparent.png',
    await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer(),
  );
  await write('ünïcödé 写真.jpg', jpeg);
  await write('with spaces.jpg', jpeg);
  await write('hash#1.jpg', jpeg);
  await write('100%.jpg', jpeg);
  await mkdir(path.join(folder, 'loop', 'inner'), { recursive: true });
  await writeFile(path.join(folder, 'loop', 'inner', 'nested.png'), png);
  await symlink('..', path.join(folder, 'loop', 'inner', 'back-to-loop'));
  await symlink('self.jpg', path.join(folder, 'loop', 'self.jpg'));

  return [
    { file: 'good.jpg', expect: 'ok' },
    { file: 'empty.jpg', expect: 'EMPTY_FILE' },
    { file: 'truncated.jpg', expect: 'DECODE_FAILED' },
    { file: 'truncated.png', expect: 'DECODE_FAILED' },
    { file: 'random-bytes.jpg', expect: 'NOT_AN_IMAGE' },
    { file: 'notes.jpg', expect: 'NOT_AN_IMAGE' },
    { file: 'bomb-50000x50000.png', expect: 'IMAGE_TOO_LARGE' },
    { file: 'vector.svg', expect: 'UNSUPPORTED_FORMAT' },
    { file: 'svg-named.png', expect: 'UNSUPPORTED_FORMAT' },
    { file: 'document.pdf', expect: 'UNSUPPORTED_FORMAT' },
    { file: 'one-pixel.png', expect: 'ok' },
    { file: 'strip-10000x10.png', expect: 'ok' },
    { file: 'transparent.png', expect: 'ok' },
    { file: 'ünïcödé 写真.jpg', expect: 'ok' },
    { file: 'with spaces.jpg', expect: 'ok' },
    { file: 'hash#1.jpg', expect: 'ok' },
    { file: '100%.jpg', expect: 'ok' },
    { file: 'missing.jpg', expect: 'FILE_NOT_FOUND' },
    { file: 'loop', expect: 'folder' },
  ];
}
