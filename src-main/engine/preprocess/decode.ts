// Decodes a raster image with sharp (libvips) into upright 8-bit sRGB pixels, the equivalent of
// Pillow's open + ImageOps.exif_transpose + convert('RGB') that torchvision pipelines start with.
import sharp, { type Metadata } from 'sharp';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { Rgb8Image } from './pil-resample.js';
import { acquirePixels } from './pixel-budget.js';
import { type RasterFormat, sniffImage } from './sniff.js';

/** Default ceiling on decoded pixels: large panoramas pass, decompression bombs do not. */
export const DEFAULT_MAX_PIXELS = 200_000_000;

export interface DecodeOptions {
  /** Refuse images whose header announces more pixels than this (before decoding anything). */
  maxPixels?: number;
  /** Name used in error values (the path as the user gave it). */
  item?: string;
  /**
   * Decode large JPEGs at reduced size (see `shrinkTarget`): libjpeg's DCT scaling where sharp can use
   * it, then libvips' reduce, to a shorter side of `minShorter` (keep it ≥ 4× the resize target so the
   * exact resize that follows still does most of the filtering). Other formats decode in full.
   */
  shrinkOnLoad?: { minShorter: number };
}

/** Shrink-on-load applies only where the shorter side is at least this many times `minShorter`. */
export const SHRINK_MIN_FACTOR = 1.5;

/** The decoded shorter side may go down to this share of `minShorter` (3.5× instead of 4× the resize). */
export const SHRINK_FLOOR = 7 / 8;

/**
 * sharp's rule for libjpeg's DCT scale s from the overall factor f = short / target (with
 * fastShrinkOnLoad): the largest s ∈ {8, 4, 2} with f ≥ s, halved when ⌊f⌋ = s (it keeps a margin
 * for libjpeg's rounding). So s = 8 needs f ≥ 9, s = 4 needs f ≥ 5, s = 2 needs f ≥ 3. It always
 * finishes with a libvips reduce to the exact target, so a DCT-scaled decode never reaches our
 * resize unfiltered.
 */
const DCT_SCALES: readonly { scale: number; minFactor: number }[] = [
  { scale: 8, minFactor: 9 },
  { scale: 4, minFactor: 5 },
  { scale: 2, minFactor: 3 },
];

/**
 * The reduced upright size for shrink-on-load, or undefined when the image is small enough to decode
 * in full. The shorter side becomes `minShorter`, or less (down to SHRINK_FLOOR of it) where that lets
 * libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12 MP 4000×3000 photo is 2.93× a 1,024 target, which
 * sharp decodes in full (101 CPU ms here), but 3× a 1,000 target, which it decodes at half scale
 * (66 ms). Entropy decoding is the same at every scale, so the saving is 30–50%, not 4×.
 * Below f = 3 the image is decoded in full and only reduced (which still saves most of the exact
 * resize's cost).
 */
export function shrinkTarget(uprightWidth: number, uprightHeight: number, minShorter: number): { width: number; height: number } | undefined {
  const short = Math.min(uprightWidth, uprightHeight);
  if (short < minShorter * SHRINK_MIN_FACTOR) return undefined;
  const floor = Math.ceil(minShorter * SHRINK_FLOOR);
  const dct = DCT_SCALES.find(({ minFactor }) => Math.floor(short / minFactor) >= floor);
  const target = dct ? Math.min(minShorter, Math.floor(short / dct.minFactor)) : minShorter;
  // The longer side rounds down, so its factor never drops below the shorter side's (sharp takes the smaller).
  const longer = (long: number): number => Math.max(target, Math.floor((long * target) / short));
  return uprightWidth <= uprightHeight ? { width: target, height: longer(uprightHeight) } : { width: longer(uprightWidth), height: target };
}

/** libvips kernel for the reduce that follows a DCT-scaled decode (measured: see docs/batch-fidelity.md). */
const SHRINK_KERNEL = 'cubic';

export interface DecodedImage extends Rgb8Image {
  format: RasterFormat;
  /** Stored size before EXIF orientation. */
  storedWidth: number;
  storedHeight: number;
  orientation: number;
  hadAlpha: boolean;
  colourSpace: string;
  bitDepth: string;
  /** Upright size before shrink-on-load reduced it (absent when decoded in full). */
  shrunkFrom?: { width: number; height: number };
}

function decodeError(code: EngineError['code'], message: string, item: string | undefined, cause?: unknown): EngineError {
  return new EngineError(code, message, { item, cause });
}

/** Maps libvips' messages onto our codes; the original text is kept for people. */
function explainSharpFailure(error: unknown, format: RasterFormat, item?: string): EngineError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return decodeError(ErrorCode.IMAGE_TOO_LARGE, `image is larger than the pixel limit: ${message}`, item, error);
  if (format === 'heif' && /(compression format|unsupported|no decoder|hevc)/i.test(message)) {
    return decodeError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `HEIC/HEIF with HEVC compression is not supported by this build (${message}); convert it to JPEG`,
      item,
      error,
    );
  }
  const truncated = /(premature end|truncated|unexpected end|read error|EOF|incomplete)/i.test(message);
  return decodeError(
    ErrorCode.DECODE_FAILED,
    `${format.toUpperCase()} could not be decoded${truncated ? ' (file is truncated)' : ''}: ${message.split('\n')[0]}`,
    item,
    error,
  );
}

export async function decodeImage(bytes: Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const item = options.item;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.byteLength === 0) throw decodeError(ErrorCode.EMPTY_FILE, 'file is empty', item);
  const sniffed = sniffImage(bytes);
  if (sniffed.kind === 'unsupported') throw decodeError(ErrorCode.UNSUPPORTED_FORMAT, `${sniffed.format.toUpperCase()}: ${sniffed.reason}`, item);
  if (sniffed.kind === 'unknown')
    throw decodeError(ErrorCode.NOT_AN_IMAGE, 'not an image: the content matches no supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF)', item);
  const format = sniffed.format;
  // A GIF's logical screen is what libvips allocates per frame, whatever the frame's own size: a
  // 1×1 frame on a 65535×65535 screen is a 4.3 GP decompression bomb that metadata() does not show.
  if (format === 'gif' && bytes.byteLength >= 10) {
    const screenWidth = bytes.readUInt16LE(6);
    const screenHeight = bytes.readUInt16LE(8);
    if (screenWidth * screenHeight > maxPixels) {
      throw decodeError(
        ErrorCode.IMAGE_TOO_LARGE,
        `GIF screen is ${screenWidth}×${screenHeight} (${Math.round((screenWidth * screenHeight) / 1e6)} MP), over the ${Math.round(maxPixels / 1e6)} MP limit`,
        item,
      );
    }
  }

  // Header first: the size check must happen before libvips allocates anything.
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw explainSharpFailure(error, format, item);
  }
  const storedWidth = metadata.width ?? 0;
  const storedHeight = metadata.height ?? 0;
  if (storedWidth <= 0 || storedHeight <= 0) throw decodeError(ErrorCode.DECODE_FAILED, `${format.toUpperCase()} header has no valid size`, item);
  if (storedWidth * storedHeight > maxPixels) {
    throw decodeError(
      ErrorCode.IMAGE_TOO_LARGE,
      `image is ${storedWidth}×${storedHeight} (${Math.round((storedWidth * storedHeight) / 1e6)} MP), over the ${Math.round(maxPixels / 1e6)} MP limit`,
      item,
    );
  }

  // torchvision ignores embedded ICC profiles (Pillow does not apply them), so RGB and grey images keep
  // their stored values; CMYK has no meaning without a profile, so it goes through one (embedded or libvips' default).
  const isCmyk = metadata.space === 'cmyk';
  const orientation = metadata.orientation ?? 1;
  const upright = orientation >= 5 ? { width: storedHeight, height: storedWidth } : { width: storedWidth, height: storedHeight };
  const shrink = options.shrinkOnLoad && format === 'jpeg' ? shrinkTarget(upright.width, upright.height, options.shrinkOnLoad.minShorter) : undefined;
  // The full decode holds stored width × height pixels (before any shrink): wait for them in the
  // process-wide budget (pixel-budget.ts).
  const release = await acquirePixels(storedWidth * storedHeight);
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', ignoreIcc: !isCmyk, pages: 1 }).autoOrient();
    // Width and height are upright (after autoOrient); 'fill' because both are computed to keep the aspect.
    if (shrink) pipeline = pipeline.resize(shrink.width, shrink.height, { fit: 'fill', kernel: SHRINK_KERNEL, fastShrinkOnLoad: true });
    const { data, info } = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return {
      data,
      width: info.width,
      height: info.height,
      channels: 3,
      format,
      storedWidth,
      storedHeight,
      orientation,
      hadAlpha: metadata.hasAlpha ?? false,
      colourSpace: metadata.space ?? 'unknown',
      bitDepth: metadata.depth ?? 'unknown',
      ...(shrink ? { shrunkFrom: upright } : {}),
    };
  } catch (error) {
    throw explainSharpFailure(error, format, item);
  } finally {
    release();
  }
}
