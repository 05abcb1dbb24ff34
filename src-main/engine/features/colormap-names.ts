// The colour maps heatmaps can be drawn with: a list of names on its own, so option parsers (the
// CLI's --colormap) can name them without loading the renderer behind them (sharp).
export const COLORMAPS = ['viridis', 'inferno', 'magma', 'plasma', 'jet', 'greys'] as const;
export type ColormapName = (typeof COLORMAPS)[number];
