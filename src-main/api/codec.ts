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

/** Deepest nesting a request may have; the contract's deepest request is 3 levels. */
export const MAX_REQUEST_DEPTH = 16;

/** Whether `value` nests deeper than `max` (iterative: a hostile value cannot overflow the stack here). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object' || ArrayBuffer.isView(current)) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A request frame from an untrusted client → the message. The caller checks the byte length first
 * (a 900 KB frame once took 1.3 s of event loop to decode before its size was looked at); here every
 * string, binary, array, map and extension is capped at `maxBytes` and nesting at MAX_REQUEST_DEPTH.
 */
export function decodeRequestFrame(frame: Uint8Array, maxBytes: number): unknown {
  if (frame.byteLength > maxBytes) throw new RangeError(`frame of ${frame.byteLength} bytes is over the limit of ${maxBytes}`);
  const value = decode(frame, {
    extensionCodec,
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: maxBytes,
    maxExtLength: maxBytes,
  });
  if (nestsDeeperThan(value, MAX_REQUEST_DEPTH)) throw new RangeError(`nested deeper than ${MAX_REQUEST_DEPTH} levels`);
  return value;
}

/**
 * The request id of a frame too large to decode, read from its first entries only (clients write
 * `kind` and `id` first), so the refusal can still name the request it answers. Null when the frame
 * does not start that way. Reads at most a few dozen bytes.
 */
export function peekRequestId(frame: Uint8Array): number | null {
  let at = 0;
  const byte = () => (at < frame.length ? frame[at++] : -1);
  const head = byte();
  const entries = head >= 0x80 && head <= 0x8f ? head - 0x80 : -1;
  if (entries < 0) return null;
  const readString = (): string | null => {
    const b = byte();
    if (b < 0xa0 || b > 0xbf) return null;
    const length = b - 0xa0;
    if (at + length > frame.length) return null;
    const text = new TextDecoder().decode(frame.subarray(at, at + length));
    at += length;
    return text;
  };
  const readUint = (): number | null => {
    const b = byte();
    if (b >= 0 && b <= 0x7f) return b;
    const widths: Record<number, number> = { 0xcc: 1, 0xcd: 2, 0xce: 4 };
    const width = widths[b];
    if (!width || at + width > frame.length) return null;
    let n = 0;
    for (let i = 0; i < width; i++) n = n * 256 + frame[at++];
    return n;
  };
  for (let i = 0; i < Math.min(entries, 2); i++) {
    const key = readString();
    if (key === 'id') return readUint();
    if (key !== 'kind' || readString() === null) return null;
  }
  return null;
}
