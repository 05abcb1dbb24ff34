// Reads NumPy .npy float32 arrays (the reference outputs in ../shared/testdata).
import { readFileSync } from 'node:fs';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

export function readNpy(file: string): NpyArray {
  const bytes = readFileSync(file);
  if (bytes.subarray(1, 6).toString('latin1') !== 'NUMPY') throw new Error(`${file} is not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.subarray(headerStart, headerStart + headerLength).toString('latin1');
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True"))
    throw new Error(`${file}: only C-order little-endian float32 is supported`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const start = headerStart + headerLength;
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.byteLength)) };
}
