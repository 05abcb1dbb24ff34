// Moved to engine/vocabulary.ts (the one list the engine, the contract and the CLI share); this
// re-export keeps the old path working while parallel branches merge.
export { EXPLAIN_METHODS, type ExplainMethod, INPUT_METHODS, type InputMethod, MAX_EXPLAIN_CLASSES, STAGE_METHODS, type StageMethod } from '../vocabulary.js';
