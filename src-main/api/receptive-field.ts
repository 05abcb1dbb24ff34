// The renderer's door to the receptive-field box function: it lives in the engine as a pure module
// (engine/core/receptive-field-box.ts, no imports), which the api may bundle like the vocabulary.
export { type FieldBox, type ReceptiveFieldValue, receptiveFieldBox } from '../engine/core/receptive-field-box.js';
