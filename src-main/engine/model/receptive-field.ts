// The receptive field of a stage: how much of the network's input one position of its map can see.
// Computed from the chain of kernels, strides and paddings on the main path (the deepest path, the
// one that grows the field; a shortcut's 1×1 projection sees less), the standard recurrence:
//   size_out  = size_in + (kernel − 1) · jump_in
//   jump_out  = jump_in · stride
//   start_out = start_in + ((kernel − 1) / 2 − pad) · jump_in
// where start is the centre of the first output position in input pixels (pixel 0's centre = 0.5).
import type { ReceptiveFieldValue } from '../core/receptive-field-box.js';

export interface ChainLayer {
  kernel: number;
  stride: number;
  /** Padding before the first row/column (ONNX pads[0]). */
  pad: number;
}

/** The identity: one input pixel sees itself. */
export const INPUT_FIELD: ReceptiveFieldValue = { size: 1, jump: 1, start: 0.5 };

export function extendField(field: ReceptiveFieldValue, layers: readonly ChainLayer[]): ReceptiveFieldValue {
  let { size, jump, start } = field;
  for (const layer of layers) {
    size += (layer.kernel - 1) * jump;
    start += ((layer.kernel - 1) / 2 - layer.pad) * jump;
    jump *= layer.stride;
  }
  return { size, jump, start };
}
