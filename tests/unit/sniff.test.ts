import { describe, expect, it } from 'vitest';
import { sniffImage } from '../../src-main/engine/preprocess/sniff.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('format sniffing by content', () => {
  it.each([
    ['jpeg', bytes([0xff, 0xd8, 0xff, 0xe0])],
    ['png', bytes([0x89], 'PNG\r\n\x1a\n')],
    ['gif', bytes('GIF89a')],
    ['webp', bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 ')],
    ['tiff', bytes('II*\0')],
    ['tiff', bytes('MM\0*')],
    ['avif', bytes([0, 0, 0, 0x1c], 'ftypavif')],
  ])('recognises %s', (format, data) => {
    expect(sniffImage(data)).toEqual({ kind: 'raster', format });
  });

  it.each([
    ['svg', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ['svg', '\uFEFF  <?xml version="1.0"?>\n<!-- drawn by hand -->\n<svg></svg>'],
    ['svg', '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" ""><svg/>'],
    ['pdf', '%PDF-1.7\n'],
    ['bmp', 'BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00'],
  ])('refuses %s as unsupported', (format, text) => {
    const result = sniffImage(Buffer.from(text, 'utf8'));
    expect(result.kind).toBe('unsupported');
    expect(result.kind === 'unsupported' && result.format).toBe(format);
  });

  it('calls text named .jpg and random bytes unknown', () => {
    expect(sniffImage(Buffer.from('this is not a photo, just text\n'))).toEqual({ kind: 'unknown' });
    expect(sniffImage(Uint8Array.from([7, 1, 200, 3, 99, 42, 0, 13]))).toEqual({ kind: 'unknown' });
    expect(sniffImage(new Uint8Array(0))).toEqual({ kind: 'unknown' });
  });
});
