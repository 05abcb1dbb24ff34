// Arrow keys in a tablist (WAI-ARIA tabs, automatic activation): Left/Right select the previous/next
// tab, wrapping, and move the focus with the selection. The app's views and the feature view's stages.

/** The tab Left/Right moves to from `index` of `count`, wrapping; null for any other key. */
export function arrowTab(key: string, index: number, count: number): number | null {
  if (count === 0 || (key !== 'ArrowRight' && key !== 'ArrowLeft')) return null;
  return (index + (key === 'ArrowRight' ? 1 : count - 1)) % count;
}

/** Handles a tab's keydown: selects the tab the arrow moves to (`select` returns its element's id) and focuses it. */
export function onTabKey(event: KeyboardEvent, index: number, count: number, select: (next: number) => string): void {
  const next = arrowTab(event.key, index, count);
  if (next === null) return;
  event.preventDefault();
  document.getElementById(select(next))?.focus();
}
