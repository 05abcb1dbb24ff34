// Decodes a raster image with sharp (libvips) into upright 8-bit sRGB pixels, the equivalent of
// Pillow's open + ImageOps.exif_transpose + convert('RGB') that torchvision pipelines start with.
import sharp, { type Metadata } from 'sharp';
import { EngineError, ErrorCode } from '../errors.js';
import type { Rgb8Image } from './pil-resample.js';
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

/**
 * The reduced upright size for shrink-on-load, or undefined when the image is small enough to decode
 * in full. The shorter side becomes exactly `minShorter`; the longer one keeps the aspect ratio.
 *
 * sharp chooses libjpeg's DCT scale (1/2, 1/4, 1/8) from the overall factor f = short / minShorter:
 * 1/2 for 3 ≤ f < 5, 1/4 for 5 ≤ f < 9, 1/8 above, never a scale that would land exactly on the
 * target (it keeps a margin for libjpeg's rounding), and always finishes with a libvips reduce to the
 * exact size. So a DCT-scaled decode never reaches our resize unfiltered; below f = 3 the image is
 * decoded in full and only reduced (which still saves most of the exact resize's cost).
 */
export function shrinkTarget(uprightWidth: number, uprightHeight: number, minShorter: number): { width: number; height: number } | undefined {
  const short = Math.min(uprightWidth, uprightHeight);
  if (short < minShorter * SHRINK_MIN_FACTOR) return undefined;
  const scale = minShorter / short;
  return uprightWidth <= uprightHeight
    ? { width: minShorter, height: Math.max(minShorter, Math.round(uprightHeight * scale)) }
    : { width: Math.max(minShorter, Math.round(uprightWidth * scale)), height: minShorter };
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
    return decodeError(ErrorCode.UNSUPPORTED_FORMAT, `HEIC/HEIF with HEVC compression is not supported by this build (${message}); convert it to JPEG`, item, error);
  }
  const truncated = /(premature end|truncated|unexpected end|read error|EOF|incomplete)/i.test(message);
  return decodeError(ErrorCode.DECODE_FAILED, `${format.toUpperCase()} could not be decoded${truncated ? ' (file is truncated)' : ''}: ${message.split('\n')[0]}`, item, error);
}

export async function decodeImage(bytes: Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const item = options.item;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.byteLength === 0) throw decodeError(ErrorCode.EMPTY_FILE, 'file is empty', item);
  const sniffed = sniffImage(bytes);
  if (sniffed.kind === 'unsupported') throw decodeError(ErrorCode.UNSUPPORTED_FORMAT, `${sniffed.format.toUpperCase()}: ${sniffed.reason}`, item);
  if (sniffed.kind === 'unknown') throw decodeError(ErrorCode.NOT_AN_IMAGE, 'not an image: the content matches no supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF)', item);
  const format = sniffed.format;

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
    throw decodeError(ErrorCode.IMAGE_TOO_LARGE, `image is ${storedWidth}×${storedHeight} (${Math.round((storedWidth * storedHeight) / 1e6)} MP), over the ${Math.round(maxPixels / 1e6)} MP limit`, item);
  }

  // torchvision ignores embedded ICC profiles (Pillow does not apply them), so RGB and grey images keep
  // their stored values; CMYK has no meaning without a profile, so it goes through one (embedded or libvips' default).
  const isCmyk = metadata.space === 'cmyk';
  const orientation = metadata.orientation ?? 1;
  const upright = orientation >= 5 ? { width: storedHeight, height: storedWidth } : { width: storedWidth, height: storedHeight };
  const shrink = options.shrinkOnLoad && format === 'jpeg' ? shrinkTarget(upright.width, upright.height, options.shrinkOnLoad.minShorter) : undefined;
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
  }
}
