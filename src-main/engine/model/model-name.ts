// Names of models in the store: the one rule for what a name may be, on its own so option parsers
// (the CLI's --name) check it without loading the store and its schemas.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

import { MODEL_NAME_PATTERN } from '../core/vocabulary.js';

export const STORE_NAME = MODEL_NAME_PATTERN;

/** Lowercased, validated store name; throws INVALID_ARGUMENT for names that could escape the folder. */
export function normaliseModelName(name: string): string {
  const normal = name.trim().toLowerCase();
  if (!STORE_NAME.test(normal) || normal.endsWith('.onnx') || normal.endsWith('.json')) {
    throw new EngineError(
      ErrorCode.INVALID_ARGUMENT,
      `invalid model name "${name}": use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (no extension)`,
      { item: name },
    );
  }
  return normal;
}
