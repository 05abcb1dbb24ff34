// The engine's vocabulary (names, error codes, defaults) for the renderer: pure data, no zod, so a
// renderer module that needs a list of names does not pull the contract's schemas into its bundle.
export * from '../engine/core/vocabulary.js';
