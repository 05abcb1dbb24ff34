// The colour maps heatmaps can be drawn with: a list of names on its own, so option parsers (the
// CLI's --colormap) can name them without loading the renderer behind them (sharp).
// Moved to engine/vocabulary.ts; this re-export keeps the old path working while parallel branches merge.
export { COLORMAP_ALIASES, COLORMAPS, type ColormapName, colormapNamed } from '../vocabulary.js';
