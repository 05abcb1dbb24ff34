// Colormaps as 256-entry RGB lookup tables, interpolated from a few anchor colours (matplotlib's
// viridis and inferno sampled every 10 %, MATLAB's jet at its breakpoints).

import type { ColormapName as AnyColormapName } from '../../../src-main/api/vocabulary.js';

/** The maps the renderer has tables for: a subset of the vocabulary's (the CLI renders them all). */
export type ColormapName = Extract<AnyColormapName, 'viridis' | 'inferno' | 'jet' | 'gray'>;

export const COLORMAPS: { name: ColormapName; label: string }[] = [
  { name: 'viridis', label: 'Viridis' },
  { name: 'inferno', label: 'Inferno' },
  { name: 'jet', label: 'Jet' },
  { name: 'gray', label: 'Grey' },
];

const hex = (h: string): [number, number, number] => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const even = (colours: string[]): [number, [number, number, number]][] => colours.map((c, i) => [i / (colours.length - 1), hex(c)]);

const ANCHORS: Record<ColormapName, [number, [number, number, number]][]> = {
  viridis: even(['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725']),
  inferno: even(['#000004', '#160b39', '#420a68', '#6a176e', '#932667', '#bc3754', '#dd513a', '#f37819', '#fca50a', '#f6d746', '#fcffa4']),
  jet: [
    [0, [0, 0, 128]],
    [0.125, [0, 0, 255]],
    [0.375, [0, 255, 255]],
    [0.625, [255, 255, 0]],
    [0.875, [255, 0, 0]],
    [1, [128, 0, 0]],
  ],
  gray: [
    [0, [0, 0, 0]],
    [1, [255, 255, 255]],
  ],
};

const cache = new Map<ColormapName, Uint8ClampedArray>();

/** 256 × RGB, index = round(value × 255). */
export function colormapLut(name: ColormapName): Uint8ClampedArray {
  let lut = cache.get(name);
  if (lut) return lut;
  lut = new Uint8ClampedArray(256 * 3);
  const anchors = ANCHORS[name];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < anchors.length - 2 && t > anchors[k + 1][0]) k++;
    const [t0, c0] = anchors[k];
    const [t1, c1] = anchors[k + 1];
    const f = t1 === t0 ? 0 : Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(c0[c] + (c1[c] - c0[c]) * f);
  }
  cache.set(name, lut);
  return lut;
}

/** CSS gradient stops for a legend bar. */
export function colormapCss(name: ColormapName): string {
  const lut = colormapLut(name);
  const stops: string[] = [];
  for (let i = 0; i <= 8; i++) {
    const j = Math.round((i / 8) * 255) * 3;
    stops.push(`rgb(${lut[j]} ${lut[j + 1]} ${lut[j + 2]}) ${(i / 8) * 100}%`);
  }
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
