// The engine's vocabulary: every list of names that more than one place spells out (the engine,
// the contract and so the renderer, the CLI's option parsers), once. Pure data and types, no
// imports: the contract (bundled into the renderer) imports this module and nothing else of the
// engine (a lint rule in eslint.layers.js holds it to that).

// ---- explanation methods ----
/** Methods computed at every stage (maps at the stage's own resolution). */
export const STAGE_METHODS = ['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam'] as const;
/** Methods computed at the input's resolution. */
export const INPUT_METHODS = ['saliency', 'guided-backprop', 'guided-gradcam', 'integrated-gradients', 'smoothgrad'] as const;
export const EXPLAIN_METHODS = [...STAGE_METHODS, ...INPUT_METHODS] as const;
export type StageMethod = (typeof STAGE_METHODS)[number];
export type InputMethod = (typeof INPUT_METHODS)[number];
export type ExplainMethod = (typeof EXPLAIN_METHODS)[number];
/** Most classes one explanation may hold (each is a backward row of the same run). */
export const MAX_EXPLAIN_CLASSES = 8;
