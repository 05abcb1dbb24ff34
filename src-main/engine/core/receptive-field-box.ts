// Where a position of a stage's map looks in the photo: one pure function (no imports) for the engine
// (report, CLI) and the renderer (the value readout, through src-main/api/receptive-field.ts). The field
// itself (size, jump, start) is computed by the engine from the stage's kernel/stride chain
// (engine/model/receptive-field.ts).

export interface ReceptiveFieldValue {
  /** Side of the field in input pixels (e.g. 427 for ResNet-50's conv5_x). */
  size: number;
  /** Input pixels between neighbouring map positions (the stage's total stride). */
  jump: number;
  /** Centre of map position 0 in input pixels (pixel 0's centre is 0.5). */
  start: number;
}

export interface FieldBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
  /** True when the field reaches past the input (into the zero padding). */
  clipped: boolean;
}

/** The input-pixel box (clipped to the input) that map position (x, y) sees. */
export function receptiveFieldBox(field: ReceptiveFieldValue, x: number, y: number, input: { width: number; height: number }): FieldBox {
  const half = field.size / 2;
  const cx = field.start + x * field.jump;
  const cy = field.start + y * field.jump;
  const raw = { left: cx - half, top: cy - half, right: cx + half, bottom: cy + half };
  const box = {
    left: Math.max(0, raw.left),
    top: Math.max(0, raw.top),
    right: Math.min(input.width, raw.right),
    bottom: Math.min(input.height, raw.bottom),
  };
  return { ...box, clipped: box.left !== raw.left || box.top !== raw.top || box.right !== raw.right || box.bottom !== raw.bottom };
}
