// Photo-like JPEGs for batch tests and benchmarks: multi-scale coloured texture (value noise over
// several octaves, like foliage, sky and surfaces at once), soft shapes, and per-pixel sensor grain,
// encoded like a camera would (4:2:0, q85–92). Deterministic per seed; what matters for the engine
// is that decoding costs what a real photo of that size costs (entropy-coded bytes per pixel).
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** A low-resolution texture (w×h RGB) summing value-noise octaves, each octave bilinear-upsampled. */
function texture(w: number, h: number, random: () => number): Buffer {
  const out = new Float32Array(w * h * 3);
  const base = [random() * 255, random() * 255, random() * 255];
  let amplitude = 55;
  for (let cell = Math.max(w, h) / 3; cell >= 2; cell /= 2.3) {
    const gw = Math.ceil(w / cell) + 2;
    const gh = Math.ceil(h / cell) + 2;
    const grid = new Float32Array(gw * gh * 3);
    for (let i = 0; i < grid.length; i++) grid[i] = (random() - 0.5) * 2 * amplitude;
    for (let y = 0; y < h; y++) {
      const gy = y / cell;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < w; x++) {
        const gx = x / cell;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const o = (y * w + x) * 3;
        for (let c = 0; c < 3; c++) {
          const a = grid[(y0 * gw + x0) * 3 + c];
          const b = grid[(y0 * gw + x0 + 1) * 3 + c];
          const d = grid[((y0 + 1) * gw + x0) * 3 + c];
          const e = grid[((y0 + 1) * gw + x0 + 1) * 3 + c];
          out[o + c] += (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
        }
      }
    }
    amplitude *= 0.62;
  }
  const bytes = Buffer.alloc(w * h * 3);
  for (let i = 0; i < out.length; i++) bytes[i] = Math.max(0, Math.min(255, base[i % 3] + out[i]));
  return bytes;
}

/** Hard-edged objects (polygons, discs, bars) with gradients and partial transparency, as SVG. */
function shapes(width: number, height: number, random: () => number): Buffer {
  const colour = () => `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
  const parts: string[] = [];
  const defs: string[] = [];
  const count = 25 + Math.floor(random() * 25);
  for (let i = 0; i < count; i++) {
    defs.push(
      `<linearGradient id="g${i}" x1="${random()}" y1="${random()}" x2="${random()}" y2="${random()}"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient>`,
    );
    const opacity = (0.35 + random() * 0.65).toFixed(2);
    const cx = random() * width;
    const cy = random() * height;
    const r = (0.02 + random() * 0.18) * Math.min(width, height);
    const kind = random();
    if (kind < 0.4) {
      parts.push(`<ellipse cx="${cx}" cy="${cy}" rx="${r}" ry="${r * (0.4 + random())}" fill="url(#g${i})" opacity="${opacity}"/>`);
    } else if (kind < 0.8) {
      const points = Array.from({ length: 3 + Math.floor(random() * 5) }, () => `${cx + (random() - 0.5) * 3 * r},${cy + (random() - 0.5) * 3 * r}`).join(' ');
      parts.push(`<polygon points="${points}" fill="url(#g${i})" opacity="${opacity}"/>`);
    } else {
      parts.push(
        `<rect x="${cx}" y="${cy}" width="${r * 3 * random()}" height="${r * 0.3}" transform="rotate(${random() * 180} ${cx} ${cy})" fill="${colour()}" opacity="${opacity}"/>`,
      );
    }
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs>${defs.join('')}</defs>${parts.join('')}</svg>`);
}

export interface PhotoOptions {
  width: number;
  height: number;
  seed: number;
  quality?: number;
  /** EXIF orientation tag to store (pixels are written as given). */
  orientation?: number;
  /** Sensor grain amplitude in 0–255 units (default 14). */
  grain?: number;
}

/** One photo-like JPEG. */
export async function photoJpeg(options: PhotoOptions): Promise<Buffer> {
  const { width, height, seed } = options;
  const random = rng(seed);
  // Texture at 1/4 resolution, upscaled smoothly (lanczos): large structures and mid-frequency detail.
  const lw = Math.max(8, Math.round(width / 4));
  const lh = Math.max(8, Math.round(height / 4));
  const low = texture(lw, lh, random);
  const composed = await sharp(low, { raw: { width: lw, height: lh, channels: 3 } })
    .composite([{ input: shapes(lw, lh, random) }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sharpened = await sharp(composed.data, { raw: { width: lw, height: lh, channels: composed.info.channels } })
    .removeAlpha()
    .sharpen({ sigma: 1 })
    .raw()
    .toBuffer();
  const full = await sharp(sharpened, { raw: { width: lw, height: lh, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
  // Fine detail: per-pixel grain (correlated across channels, like luminance noise).
  const grain = options.grain ?? 14;
  let s = (seed * 747796405 + 2891336453) >>> 0;
  for (let i = 0; i < full.length; i += 3) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const n = ((s >>> 24) / 255 - 0.5) * 2 * grain;
    const nc = (((s >>> 16) & 0xff) / 255 - 0.5) * grain;
    full[i] = Math.max(0, Math.min(255, full[i] + n + nc));
    full[i + 1] = Math.max(0, Math.min(255, full[i + 1] + n));
    full[i + 2] = Math.max(0, Math.min(255, full[i + 2] + n - nc));
  }
  let image = sharp(full, { raw: { width, height, channels: 3 } });
  if (options.orientation && options.orientation !== 1) image = image.withMetadata({ orientation: options.orientation });
  return image.jpeg({ quality: options.quality ?? 90, chromaSubsampling: '4:2:0' }).toBuffer();
}

export interface PhotoSetSpec {
  folder: string;
  count: number;
  /** Size of photo i (landscape or portrait as returned). */
  size: (i: number) => { width: number; height: number };
  seedBase: number;
  quality?: (i: number) => number;
  orientation?: (i: number) => number;
}

/** Writes (or finds, when cached) a set of photos; returns their paths in order. */
export async function ensurePhotoSet(spec: PhotoSetSpec): Promise<string[]> {
  await mkdir(spec.folder, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < spec.count; i++) {
    const { width, height } = spec.size(i);
    const file = path.join(spec.folder, `photo-${String(i).padStart(4, '0')}-${width}x${height}.jpg`);
    if (!existsSync(file)) {
      const bytes = await photoJpeg({ width, height, seed: spec.seedBase + i, quality: spec.quality?.(i), orientation: spec.orientation?.(i) });
      await writeFile(`${file}.tmp`, bytes);
      await rename(`${file}.tmp`, file);
    }
    files.push(file);
  }
  return files;
}
