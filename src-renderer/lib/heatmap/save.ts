// "Save PNG" / "Copy" for a shown map: the canvas as drawn (photo, heatmap, zoom) as PNG bytes.

export function canvasBlob(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the map could not be encoded as PNG'))), 'image/png'),
  );
}

export async function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Uint8Array(await (await canvasBlob(canvas)).arrayBuffer());
}

/** Puts the PNG on the clipboard (needs a secure context and, in some browsers, permission). */
export async function copyPng(canvas: HTMLCanvasElement): Promise<void> {
  if (!navigator.clipboard?.write || typeof ClipboardItem === 'undefined') throw new Error('this browser cannot copy images');
  await navigator.clipboard.write([new ClipboardItem({ 'image/png': canvasBlob(canvas) })]);
}

/** A file-name-safe stem ("IMG 0042.jpg" → "IMG_0042"). */
export const fileStem = (name: string): string =>
  name
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 80) || 'photo';
