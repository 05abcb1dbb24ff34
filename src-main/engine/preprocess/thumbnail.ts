// Small previews for the UI, made by the engine so full photos never cross IPC.
import sharp from 'sharp';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { DEFAULT_MAX_PIXELS } from './decode.js';
import { readImageFile } from './preprocess.js';
import { sniffImage } from './sniff.js';

export interface Thumbnail {
  jpeg: Uint8Array;
  width: number;
  height: number;
}

/** An upright JPEG preview whose longer side is at most `size` pixels. */
export async function thumbnailFile(file: string, size: number, item = file): Promise<Thumbnail> {
  const bytes = await readImageFile(file, item);
  const sniffed = sniffImage(bytes);
  if (sniffed.kind !== 'raster') {
    throw new EngineError(sniffed.kind === 'unsupported' ? ErrorCode.UNSUPPORTED_FORMAT : ErrorCode.NOT_AN_IMAGE, 'no preview: not a supported image', {
      item,
    });
  }
  try {
    // Shrink-on-load makes this cheap even for 20 MP JPEGs.
    const { data, info } = await sharp(bytes, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'none', pages: 1 })
      .autoOrient()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 82, mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    throw new EngineError(ErrorCode.DECODE_FAILED, `no preview: ${(error as Error).message.split('\n')[0]}`, { item, cause: error });
  }
}
