// Recognises image formats by content (magic bytes), never by extension, so that a text file named
// .jpg or an SVG renamed .png is refused before any decoder sees it.

export type RasterFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif';
export type SniffResult = { kind: 'raster'; format: RasterFormat } | { kind: 'unsupported'; format: string; reason: string } | { kind: 'unknown' };

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0): boolean =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
const ascii = (bytes: Uint8Array, start: number, end: number): string => Buffer.from(bytes.subarray(start, end)).toString('latin1');

/** ISO-BMFF brands: AVIF decodes with sharp's bundled libheif; HEVC-coded HEIC usually does not. */
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

function sniffText(bytes: Uint8Array): SniffResult | undefined {
  const head = Buffer.from(bytes.subarray(0, 1024))
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg|<svg)/i.test(head)) {
    return { kind: 'unsupported', format: 'svg', reason: 'SVG is a vector format; ResLens classifies photographs and does not rasterise vector files' };
  }
  if (head.startsWith('%PDF')) return { kind: 'unsupported', format: 'pdf', reason: 'PDF is a document format; export the page as PNG or JPEG to classify it' };
  if (head.startsWith('%!PS'))
    return { kind: 'unsupported', format: 'postscript', reason: 'PostScript/EPS is a document format; export it as PNG or JPEG to classify it' };
  return undefined;
}

export function sniffImage(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'raster', format: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'raster', format: 'png' };
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return { kind: 'raster', format: 'gif' };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { kind: 'raster', format: 'webp' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) || startsWith(bytes, [0x49, 0x49, 0x2b, 0x00])) {
    return { kind: 'raster', format: 'tiff' };
  }
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    if (AVIF_BRANDS.has(brand)) return { kind: 'raster', format: 'avif' };
    if (HEIF_BRANDS.has(brand)) return { kind: 'raster', format: 'heif' };
  }
  // BMP: 'BM', then a 14-byte file header whose reserved bytes 6..9 are zero.
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26 && startsWith(bytes, [0, 0, 0, 0], 6))
    return { kind: 'unsupported', format: 'bmp', reason: 'BMP is not supported; convert it to PNG' };
  if (ascii(bytes, 0, 4) === '8BPS') return { kind: 'unsupported', format: 'psd', reason: 'Photoshop documents are not supported; export a JPEG or PNG' };
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: 'unsupported', format: 'jxl', reason: 'JPEG XL is not supported by this build' };
  }
  return sniffText(bytes) ?? { kind: 'unknown' };
}
