import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { FLOAT32_EXT, decodeMessage, encodeMessage } from '../../src-main/api/codec.js';

describe('wire codec (MessagePack with Float32Array extension)', () => {
  it('round-trips a features-like result: Float32Array and Uint8Array keep their types and values', () => {
    const heat = new Float32Array([0, 0.25, 0.5, 1, Number.NaN, -0, 3.4e38, 1e-45]);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 255]);
    const message = {
      kind: 'response',
      id: 7,
      ok: true,
      result: {
        crop: { jpeg, width: 2, height: 4 },
        stages: [{ name: 'stem', heatmap: { width: 4, height: 2, data: heat } }],
        top: [{ index: 1, label: 'goldfish', prob: 0.5 }],
      },
    };
    const back = decodeMessage(encodeMessage(message)) as typeof message;
    expect(back.result.crop.jpeg).toBeInstanceOf(Uint8Array);
    expect([...back.result.crop.jpeg]).toEqual([...jpeg]);
    const data = back.result.stages[0].heatmap.data;
    expect(data).toBeInstanceOf(Float32Array);
    expect(data.length).toBe(heat.length);
    for (let i = 0; i < heat.length; i++) expect(Object.is(data[i], heat[i])).toBe(true);
    expect(back.result.top).toEqual(message.result.top);
  });

  it('encodes a Float32Array view at an odd byte offset, and decodes it aligned', () => {
    const backing = new ArrayBuffer(4 * 11);
    const all = new Float32Array(backing);
    all.forEach((_, i) => (all[i] = i * 1.5));
    const view = all.subarray(3, 10);
    const frame = encodeMessage({ pad: 'x', v: view });
    // The payload starts at an unaligned offset inside the frame; decoding still gives a usable array.
    const back = decodeMessage(frame) as { v: Float32Array };
    expect(back.v.byteOffset % 4).toBe(0);
    expect([...back.v]).toEqual([...view]);
    // And from an ArrayBuffer (what a browser WebSocket hands over).
    const copy = frame.slice().buffer;
    expect([...(decodeMessage(copy) as { v: Float32Array }).v]).toEqual([...view]);
  });

  it('leaves undefined properties out and keeps null', () => {
    const back = decodeMessage(encodeMessage({ a: undefined, b: null, c: [1, undefined] })) as Record<string, unknown>;
    expect('a' in back).toBe(false);
    expect(back.b).toBeNull();
    expect(back.c).toEqual([1, null]);
  });

  it('rejects malformed frames and a float32 extension with a partial float', () => {
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow();
    expect(() => decodeMessage(new Uint8Array([0x92, 0x01]))).toThrow(); // array of 2 with one element
    const bad = new Uint8Array([0xd6, FLOAT32_EXT, 1, 2, 3, 4]); // fixext4 is fine…
    expect((decodeMessage(bad) as Float32Array).length).toBe(1);
    const partial = new Uint8Array([0xc7, 3, FLOAT32_EXT, 1, 2, 3]); // …ext8 with 3 bytes is not
    expect(() => decodeMessage(partial)).toThrow(/whole number of floats/);
  });

  it('never lets a __proto__ key reach an object prototype', () => {
    const frame = encode(
      new Map<string, unknown>([
        ['__proto__', { polluted: true }],
        ['kind', 'request'],
      ]),
    );
    let decoded: unknown;
    try {
      decoded = decodeMessage(frame);
    } catch {
      decoded = undefined; // refusing the frame is fine too
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (decoded) expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });
});

describe('wire codec with Node Buffers', () => {
  it('decodes a frame held in a pooled Buffer (what ws hands the server)', () => {
    const frame = encodeMessage({ data: new Float32Array([1, 2, 3]) });
    const pooled = Buffer.from(frame); // small Buffers share one pool: byteOffset is arbitrary
    const back = decodeMessage(pooled) as { data: Float32Array };
    expect([...back.data]).toEqual([1, 2, 3]);
  });
});
