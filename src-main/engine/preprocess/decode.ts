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
}

export interface DecodedImage extends Rgb8Image {
  format: RasterFormat;
  /** Stored size before EXIF orientation. */
  storedWidth: number;
  storedHeight: number;
  orientation: number;
  hadAlpha: boolean;
  colourSpace: string;
  bitDepth: string;
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
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', ignoreIcc: !isCmyk, pages: 1 })
      .autoOrient()
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
      orientation: metadata.orientation ?? 1,
      hadAlpha: metadata.hasAlpha ?? false,
      colourSpace: metadata.space ?? 'unknown',
      bitDepth: metadata.depth ?? 'unknown',
    };
  } catch (error) {
    throw explainSharpFailure(error, format, item);
  }
}
