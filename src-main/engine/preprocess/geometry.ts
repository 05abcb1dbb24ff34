// torchvision's Resize(int) and CenterCrop(int) arithmetic, including Python's rounding.

/** Python 3 round(): halves go to the even neighbour (58.5 → 58, 59.5 → 60). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Resize(size): shorter side to `size`, longer side int(size * long / short), aspect kept. */
export function resizedSize(width: number, height: number, shorterSide: number): { width: number; height: number } {
  if (width <= height) return { width: shorterSide, height: Math.trunc((shorterSide * height) / width) };
  return { width: Math.trunc((shorterSide * width) / height), height: shorterSide };
}

/** CenterCrop(size): offsets int(round((dim - size) / 2)). */
export function centerCropBox(width: number, height: number, cropWidth: number, cropHeight: number) {
  return {
    left: roundHalfEven((width - cropWidth) / 2),
    top: roundHalfEven((height - cropHeight) / 2),
    width: cropWidth,
    height: cropHeight,
  };
}
