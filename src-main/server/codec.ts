// The WebSocket wire codec (browser mode): MessagePack frames, so the typed arrays in results
// (thumbnails, crops, heatmaps) travel as bytes rather than as JSON number lists. Uint8Array is
// MessagePack's own bin type; Float32Array travels as extension type 1 (its bytes, little-endian as
// on every platform ResLens runs on) and comes back as a Float32Array with its own aligned buffer.
//
// Pure: no Node or DOM APIs. The server and the renderer's WebSocket transport both use this module.
import { ExtensionCodec, decode, encode } from '@msgpack/msgpack';

export const FLOAT32_EXT = 1;

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: FLOAT32_EXT,
  encode: (value: unknown): Uint8Array | null => (value instanceof Float32Array ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : null),
  decode: (data: Uint8Array): Float32Array => {
    if (data.byteLength % 4 !== 0) throw new RangeError(`float32 extension of ${data.byteLength} bytes is not a whole number of floats`);
    // Copy into a fresh buffer: the frame's bytes may sit at any offset, a Float32Array needs 4-byte
    // alignment (and Node's Buffer#slice would return a view into a shared pool, not a copy).
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    return new Float32Array(copy.buffer);
  },
});

/** One message → one binary WebSocket frame. Undefined properties are left out (as JSON would). */
export function encodeMessage(message: unknown): Uint8Array {
  return encode(message, { extensionCodec, ignoreUndefined: true });
}

/** One binary frame → the message. Throws on malformed input (the caller answers with an error). */
export function decodeMessage(frame: Uint8Array | ArrayBuffer): unknown {
  return decode(frame instanceof Uint8Array ? frame : new Uint8Array(frame), { extensionCodec });
}
