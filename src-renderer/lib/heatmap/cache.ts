// Coloured heatmap canvases, kept per map object and colour setting: switching stage (or back) draws
// a canvas that already exists instead of colouring the map again (issue 15: stage switch < 50 ms).
// Keyed weakly by the map, so a new image's maps replace the old ones without a size limit to tune.
import type { HeatmapValue } from '../../../src-main/api/contract.js';
import type { ColormapName } from './colormaps.js';
import { colourHeatmap } from './draw.js';

const cache = new WeakMap<HeatmapValue, Map<string, HTMLCanvasElement>>();

export function cachedHeatmap(map: HeatmapValue, colormap: ColormapName, alphaByValue: boolean): HTMLCanvasElement {
  let perMap = cache.get(map);
  if (!perMap) cache.set(map, (perMap = new Map()));
  const key = `${colormap}:${alphaByValue ? 'value' : 'opaque'}`;
  let canvas = perMap.get(key);
  if (!canvas) perMap.set(key, (canvas = colourHeatmap(map, colormap, false, alphaByValue)));
  return canvas;
}

/** A raw value of a normalised map (0..1 → min..max), or the normalised value when the range is unknown. */
export function rawValue(map: HeatmapValue, normalised: number): number {
  return map.min !== undefined && map.max !== undefined ? map.min + normalised * (map.max - map.min) : normalised;
}

/** Short numbers for the colour bar and the readout (3 significant digits, no exponent for everyday values). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 100_000)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}
