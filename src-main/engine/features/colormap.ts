// Heatmap colouring and overlays. Colour tables come from the `colormap` package (matplotlib's
// perceptually uniform maps); compositing and smooth upsampling are sharp's.
import colormap from 'colormap';
import sharp from 'sharp';
import type { Heatmap } from './reduce.js';

import { type ColormapName, DEFAULT_OVERLAY_OPACITY } from '../core/vocabulary.js';

const tables = new Map<ColormapName, Uint8Array>();

/** 256 RGB entries. */
export function colormapTable(name: ColormapName): Uint8Array {
  let table = tables.get(name);
  if (!table) {
    // The colormap package calls the grey ramp `greys`.
    const rgba = colormap({ colormap: name === 'gray' ? 'greys' : name, nshades: 256, format: 'rgba' }) as number[][];
    table = new Uint8Array(256 * 3);
    rgba.forEach(([r, g, b], i) => table!.set([r, g, b], i * 3));
    tables.set(name, table);
  }
  return table;
}

/** Heatmap values [0,1] → 8-bit grey, the form sharp resizes smoothly. */
function heatmapToGrey(heatmap: Heatmap): Buffer {
  const grey = Buffer.alloc(heatmap.data.length);
  for (let i = 0; i < heatmap.data.length; i++) grey[i] = Math.round(Math.min(1, Math.max(0, heatmap.data[i])) * 255);
  return grey;
}

/** Colours a grey buffer through a table: RGB out. */
function applyTable(grey: Uint8Array, table: Uint8Array): Buffer {
  const rgb = Buffer.alloc(grey.length * 3);
  for (let i = 0; i < grey.length; i++) {
    const t = grey[i] * 3;
    rgb[i * 3] = table[t];
    rgb[i * 3 + 1] = table[t + 1];
    rgb[i * 3 + 2] = table[t + 2];
  }
  return rgb;
}

/** The heatmap upsampled (bicubic) to width×height and coloured: raw RGB. */
export async function colouredHeatmap(heatmap: Heatmap, width: number, height: number, name: ColormapName = 'inferno'): Promise<Buffer> {
  const grey = await sharp(heatmapToGrey(heatmap), { raw: { width: heatmap.width, height: heatmap.height, channels: 1 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    // sharp outputs sRGB (3 channels) by default even for grey input: keep the single channel.
    .extractChannel(0)
    .raw()
    .toBuffer();
  return applyTable(grey, colormapTable(name));
}

export interface OverlayOptions {
  colormap?: ColormapName;
  /** Heatmap opacity over the photo, 0..1. */
  opacity?: number;
  /** 'value': each pixel's opacity is `opacity × value`, so low values leave the photo visible (the app's default). */
  transparency?: 'uniform' | 'value';
}

/** PNG of the heatmap over `photo` (raw RGB, photoWidth×photoHeight). */
export async function overlayPng(
  photo: { data: Buffer | Uint8Array; width: number; height: number },
  heatmap: Heatmap,
  options: OverlayOptions = {},
): Promise<Buffer> {
  const opacity = Math.min(1, Math.max(0, options.opacity ?? DEFAULT_OVERLAY_OPACITY));
  const colours = await colouredHeatmap(heatmap, photo.width, photo.height, options.colormap);
  const blended = Buffer.alloc(colours.length);
  if (options.transparency === 'value') {
    // The upsampled value, read back from the colour's position in the table would be costly: upsample the grey once more.
    const grey = await sharp(heatmapToGrey(heatmap), { raw: { width: heatmap.width, height: heatmap.height, channels: 1 } })
      .resize(photo.width, photo.height, { kernel: 'cubic', fit: 'fill' })
      .extractChannel(0)
      .raw()
      .toBuffer();
    for (let i = 0; i < colours.length; i++) {
      const a = opacity * (grey[Math.floor(i / 3)] / 255);
      blended[i] = Math.round(photo.data[i] * (1 - a) + colours[i] * a);
    }
  } else for (let i = 0; i < colours.length; i++) blended[i] = Math.round(photo.data[i] * (1 - opacity) + colours[i] * opacity);
  return sharp(blended, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** PNG grid of several small heatmaps (e.g. the top channels of a stage), cells separated by a gap. */
export async function gridPng(maps: Heatmap[], options: { columns?: number; cell?: number; gap?: number; colormap?: ColormapName } = {}): Promise<Buffer> {
  const columns = Math.max(1, Math.min(options.columns ?? 4, maps.length));
  const cell = options.cell ?? 112;
  const gap = options.gap ?? 4;
  const rows = Math.ceil(maps.length / columns);
  const width = columns * cell + (columns + 1) * gap;
  const height = rows * cell + (rows + 1) * gap;
  const composites = await Promise.all(
    maps.map(async (map, i) => ({
      input: await colouredHeatmap(map, cell, cell, options.colormap ?? 'viridis'),
      raw: { width: cell, height: cell, channels: 3 as const },
      left: gap + (i % columns) * (cell + gap),
      top: gap + Math.floor(i / columns) * (cell + gap),
    })),
  );
  return sharp({ create: { width, height, channels: 3, background: '#202124' } })
    .composite(composites)
    .png()
    .toBuffer();
}
