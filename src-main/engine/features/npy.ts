// NumPy .npy (format 1.0) writer for float32 arrays: the raw stage tensors users export.

export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Magic (6) + version (2) + header length (2) + header + newline, padded to a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // .npy is little-endian here ('<f4'); Float32Array uses the platform's order, little-endian on every supported platform.
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}
