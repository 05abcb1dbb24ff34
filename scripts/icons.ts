// Renders the app icon (build/icon.svg) into what electron-builder wants:
//   build/icon.png          1024×1024 (macOS dmg; electron-builder makes the .icns from it)
//   build/icons/NxN.png     16 … 1024 (Linux AppImage and deb)
//   build/icon.ico          16 … 256, PNG-compressed entries (Windows nsis)
// The outputs are committed; run `npx tsx scripts/icons.ts` after changing the SVG.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT } from './electron-binary.js';

const BUILD = path.join(REPO_ROOT, 'build');
const LINUX_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];

async function render(svg: Buffer, size: number): Promise<Buffer> {
  return sharp(svg, { density: Math.max(72, Math.ceil((72 * size) / 1024) * 4) })
    .resize(size, size)
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** An .ico holding PNG images (supported since Windows Vista): header, directory, then the PNGs. */
export function ico(images: { size: number; png: Buffer }[]): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  const directory = Buffer.alloc(16 * images.length);
  let offset = header.length + directory.length;
  images.forEach(({ size, png }, i) => {
    const entry = 16 * i;
    directory.writeUInt8(size >= 256 ? 0 : size, entry);
    directory.writeUInt8(size >= 256 ? 0 : size, entry + 1);
    directory.writeUInt8(0, entry + 2);
    directory.writeUInt8(0, entry + 3);
    directory.writeUInt16LE(1, entry + 4);
    directory.writeUInt16LE(32, entry + 6);
    directory.writeUInt32LE(png.length, entry + 8);
    directory.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, directory, ...images.map((i) => i.png)]);
}

async function main(): Promise<void> {
  const svg = await readFile(path.join(BUILD, 'icon.svg'));
  await mkdir(path.join(BUILD, 'icons'), { recursive: true });
  const pngs = new Map<number, Buffer>();
  for (const size of LINUX_SIZES) {
    const png = await render(svg, size);
    pngs.set(size, png);
    await writeFile(path.join(BUILD, 'icons', `${size}x${size}.png`), png);
  }
  await writeFile(path.join(BUILD, 'icon.png'), pngs.get(1024) as Buffer);
  await writeFile(path.join(BUILD, 'icon.ico'), ico(ICO_SIZES.map((size) => ({ size, png: pngs.get(size) as Buffer }))));
  process.stdout.write(`wrote build/icon.png, build/icon.ico and build/icons/ (${LINUX_SIZES.join(', ')})\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
