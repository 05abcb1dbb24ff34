// Image file → model input tensor, following the preprocessing contract in DESIGN.md.
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type DecodedImage, decodeImage } from './decode.js';
import { centerCropBox, resizedSize } from './geometry.js';
import { resizeBilinearCropped } from './pil-resample.js';
import { type TensorLayout, writeNormalised } from './tensor.js';

export interface PreprocessSpec {
  /** Shorter side after resizing (torchvision Resize(int)). */
  resizeShorter: number;
  /** Square centre crop (torchvision CenterCrop(int)); must not exceed resizeShorter. */
  crop: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  layout: TensorLayout;
}

/** torchvision's ImageNet evaluation transform. */
export const TORCHVISION_PREPROCESSING: PreprocessSpec = {
  resizeShorter: 256,
  crop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'NCHW',
};

export interface ImageFacts {
  format: string;
  width: number;
  height: number;
  storedWidth: number;
  storedHeight: number;
  orientation: number;
  resized: { width: number; height: number };
  crop: { left: number; top: number; width: number; height: number };
}

export interface PreprocessedImage {
  /** One image, 3 × crop × crop float32 in spec.layout. */
  tensor: Float32Array;
  facts: ImageFacts;
  /** Milliseconds spent reading + decoding, and resizing + normalising. */
  timings: { decodeMs: number; resizeMs: number };
}

export interface PreprocessOptions {
  maxPixels?: number;
  item?: string;
  /** Write into this buffer at `offset` instead of allocating (batching). */
  target?: Float32Array;
  offset?: number;
  /** Decode large JPEGs at reduced size first (decode.ts `shrinkOnLoad`); default: full decode. */
  shrinkOnLoad?: { minShorter: number };
}

/**
 * Largest image file read at all. The largest photo formats in use (a 200 MP stitched PNG or a
 * 16-bit TIFF) stay under it; /dev/zero behind a link, or a file that keeps growing, stop here.
 */
export const MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024;

/**
 * Reads an image file whole. Opened non-blocking and checked with fstat on the same descriptor, so a
 * FIFO (whose open or read would wait forever for a writer) or a device is NOT_A_FILE before any read,
 * and the read never goes past the size limit even when the file grows while being read.
 */
export async function readImageFile(file: string, item = file, maxBytes = MAX_IMAGE_FILE_BYTES): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (info.isDirectory()) throw new EngineError(ErrorCode.NOT_AN_IMAGE, 'is a folder, not an image file', { item });
    if (!info.isFile()) throw new EngineError(ErrorCode.NOT_A_FILE, 'not a regular file (a FIFO, device or socket): only image files can be read', { item });
    if (info.size > maxBytes)
      throw new EngineError(
        ErrorCode.IMAGE_TOO_LARGE,
        `file is ${Math.round(info.size / 1048576)} MB, over the ${Math.round(maxBytes / 1048576)} MB limit for one image`,
        { item },
      );
    const buffer = Buffer.alloc(info.size);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break; // shrank while reading: decode what is there (a truncated image gets its own error)
      filled += bytesRead;
    }
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EngineError(ErrorCode.FILE_NOT_FOUND, 'file not found (it may have been moved or deleted)', { item, cause: error });
    if (code === 'EISDIR') throw new EngineError(ErrorCode.NOT_AN_IMAGE, 'is a folder, not an image file', { item, cause: error });
    if (code === 'ELOOP') throw new EngineError(ErrorCode.SYMLINK_LOOP, 'symbolic link loop', { item, cause: error });
    if (code === 'ENXIO') throw new EngineError(ErrorCode.NOT_A_FILE, 'not a regular file (a socket): only image files can be read', { item, cause: error });
    throw new EngineError(ErrorCode.READ_FAILED, `cannot read file: ${(error as Error).message}`, { item, cause: error });
  } finally {
    await handle?.close();
  }
}

/** Resize + crop + normalise an already decoded image. */
export function tensorFromDecoded(image: DecodedImage, spec: PreprocessSpec, options: PreprocessOptions = {}): { tensor: Float32Array; facts: ImageFacts } {
  const resized = resizedSize(image.width, image.height, spec.resizeShorter);
  const crop = centerCropBox(resized.width, resized.height, spec.crop, spec.crop);
  const cropped = resizeBilinearCropped(image, resized.width, resized.height, crop);
  const size = 3 * spec.crop * spec.crop;
  const tensor = options.target ?? new Float32Array(size);
  writeNormalised(cropped, spec.mean, spec.std, spec.layout, tensor, options.offset ?? 0);
  return {
    tensor,
    facts: {
      format: image.format,
      width: image.width,
      height: image.height,
      storedWidth: image.storedWidth,
      storedHeight: image.storedHeight,
      orientation: image.orientation,
      resized,
      crop,
    },
  };
}

export async function preprocessBytes(bytes: Buffer, spec: PreprocessSpec, options: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const start = performance.now();
  const decoded = await decodeImage(bytes, { maxPixels: options.maxPixels, item: options.item, shrinkOnLoad: options.shrinkOnLoad });
  const decodedAt = performance.now();
  const { tensor, facts } = tensorFromDecoded(decoded, spec, options);
  return { tensor, facts, timings: { decodeMs: decodedAt - start, resizeMs: performance.now() - decodedAt } };
}

export async function preprocessFile(file: string, spec: PreprocessSpec, options: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const item = options.item ?? file;
  const start = performance.now();
  const bytes = await readImageFile(file, item);
  const result = await preprocessBytes(bytes, spec, { ...options, item });
  result.timings.decodeMs += performance.now() - start - result.timings.decodeMs - result.timings.resizeMs;
  return result;
}
