// The centre crop the network saw (a JPEG in every features/explain answer), decoded for drawing
// heatmaps over it: the feature view, its explanations and the comparison all draw on it.

/** The crop as a bitmap; null when the bytes do not decode (the maps are then drawn alone). */
export function decodeCrop(jpeg: Uint8Array): Promise<ImageBitmap | null> {
  return createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' })).catch(() => null);
}

/**
 * The decoded crop of whatever answer `source` reads, kept current while the component lives (create it
 * during component set-up). A decode still running when the answer changes is dropped, so a slow
 * decode of the previous photo never replaces the current one.
 */
export class CropPhoto {
  current = $state.raw<ImageBitmap | null>(null);
  /** The bytes `current` was decoded from: a new answer for the same photo (another method or class) keeps it. */
  private decoded: Uint8Array | null = null;

  constructor(source: () => Uint8Array | null | undefined) {
    $effect(() => {
      const jpeg = source();
      if (!jpeg) {
        this.current = null;
        this.decoded = null;
        return;
      }
      // Every answer carries the crop again; decoding it again would repaint the maps a second time.
      if (this.current && this.decoded && sameBytes(this.decoded, jpeg)) return;
      let cancelled = false;
      void decodeCrop(jpeg).then((bitmap) => {
        if (cancelled) return;
        this.current = bitmap;
        this.decoded = bitmap ? jpeg : null;
      });
      return () => {
        cancelled = true;
      };
    });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
