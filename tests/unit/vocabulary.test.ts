// The vocabulary is the one source of the names: pure (no imports); the contract's schemas are built
// from its lists, and the engine modules import them (none keeps a copy).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EpSchema, ErrorCodeSchema, ModelNameSchema, StageNameSchema } from '../../src-main/api/contract.js';
import { colormapTable } from '../../src-main/engine/features/colormap.js';
import * as vocabulary from '../../src-main/engine/core/vocabulary.js';

describe('vocabulary', () => {
  it('imports nothing (the renderer bundles it through the api)', () => {
    const source = readFileSync(new URL('../../src-main/engine/core/vocabulary.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*(import|export .* from)\b/m);
  });

  it('is the list behind the contract, the providers and the stages', () => {
    expect(EpSchema.options).toEqual([...vocabulary.EP_NAMES]);
    expect(StageNameSchema.options).toEqual([...vocabulary.STAGE_NAMES]);
    expect(ErrorCodeSchema.options).toEqual(vocabulary.ERROR_CODES);
    expect(ModelNameSchema.safeParse('resnet50-v1').success).toBe(true);
    expect(ModelNameSchema.safeParse('../x').success).toBe(false);
  });

  it('has one code for a bug (INTERNAL), and file codes that are codes', () => {
    expect(vocabulary.ERROR_CODES).toContain('INTERNAL');
    expect(vocabulary.ERROR_CODES).not.toContain('INTERNAL_ERROR');
    expect(new Set(vocabulary.ERROR_CODES).size).toBe(vocabulary.ERROR_CODES.length);
    for (const code of vocabulary.FILE_ERROR_CODES) expect(vocabulary.ERROR_CODES).toContain(code);
    expect(vocabulary.isFileError('DECODE_FAILED')).toBe(true);
    expect(vocabulary.isFileError('INFERENCE_FAILED')).toBe(false);
    expect(vocabulary.errorCodeOf('INTERNAL_ERROR')).toBe('INTERNAL');
  });

  it("names the grey colour map `gray` and takes the CLI's old `greys` as an alias", () => {
    expect(vocabulary.colormapNamed('gray')).toBe('gray');
    expect(vocabulary.colormapNamed('greys')).toBe('gray');
    expect(vocabulary.colormapNamed('Greys')).toBe('gray');
    expect(vocabulary.colormapNamed('rainbow')).toBeUndefined();
    const table = colormapTable('gray');
    expect([table[0], table[1], table[2]]).toEqual([0, 0, 0]);
    expect([table[765], table[766], table[767]]).toEqual([255, 255, 255]);
  });
});
