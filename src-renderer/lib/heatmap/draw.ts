// Heatmaps on canvas: the small map (7×7 … 56×56) is coloured into an offscreen canvas at its own
// size, then drawn scaled with high-quality smoothing over the photo the network saw.
import type { HeatmapValue } from '../../../src-main/api/contract.js';
import { type ColormapName, colormapLut } from './colormaps.js';

/** A heatmap coloured at its own resolution (cheap to redraw at any size or opacity). */
export function colourHeatmap(map: HeatmapValue, colormap: ColormapName, normalise = false, alphaByValue = false): HTMLCanvasElement {
  const { width, height, data } = map;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) return canvas;
  const image = context.createImageData(width, height);
  const lut = colormapLut(colormap);
  let min = 0;
  let scale = 1;
  if (normalise) {
    min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    scale = max > min ? 1 / (max - min) : 0;
  }
  for (let i = 0; i < width * height; i++) {
    const v = Number.isFinite(data[i]) ? (data[i] - min) * scale : 0;
    const j = Math.round(Math.min(1, Math.max(0, v)) * 255) * 3;
    image.data[i * 4] = lut[j];
    image.data[i * 4 + 1] = lut[j + 1];
    image.data[i * 4 + 2] = lut[j + 2];
    // Transparency that follows the value: low values let the photo through instead of covering it.
    image.data[i * 4 + 3] = alphaByValue ? Math.round(Math.min(1, Math.max(0, v)) * 255) : 255;
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

/** Sizes a canvas's backing store to its CSS box × devicePixelRatio; returns the drawing size. */
export function fitCanvas(canvas: HTMLCanvasElement, cssWidth: number, cssHeight: number): { width: number; height: number } {
  const ratio = Math.min(window.devicePixelRatio || 1, 3);
  const width = Math.max(1, Math.round(cssWidth * ratio));
  const height = Math.max(1, Math.round(cssHeight * ratio));
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  return { width, height };
}

export interface OverlayOptions {
  photo?: CanvasImageSource | null;
  heat?: HTMLCanvasElement | null;
  /** 0 … 1: how much of the heatmap covers the photo. */
  opacity: number;
}

/** Photo (cover-fitted) with the heatmap smoothly upsampled on top. */
export function drawOverlay(canvas: HTMLCanvasElement, options: OverlayOptions): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const { width, height } = canvas;
  context.save();
  context.clearRect(0, 0, width, height);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  if (options.photo) {
    context.globalAlpha = 1;
    context.drawImage(options.photo, 0, 0, width, height);
  }
  if (options.heat) {
    context.globalAlpha = options.photo ? Math.min(1, Math.max(0, options.opacity)) : 1;
    context.drawImage(options.heat, 0, 0, width, height);
  }
  context.restore();
}
