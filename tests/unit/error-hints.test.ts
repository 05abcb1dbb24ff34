// Engine errors carry what the user can do as data (a hint); each host words it: the CLI names its
// flags and commands, the app names its controls and never a flag its users cannot type.
import { describe, expect, it } from 'vitest';
import { unfinishedRunError } from '../../src-main/engine/batch/journal.js';
import { endLines, withHint } from '../../src-main/cli/hints.js';
import { errorText } from '../../src-renderer/lib/util/hint.js';
import { ErrorCode, type ErrorHint } from '../../src-main/engine/core/vocabulary.js';

describe('error hints', () => {
  it('an unfinished run: the engine states the fact, the CLI says --resume/--restart, the app says Resume/Start over', () => {
    const error = unfinishedRunError('/photos/results.csv.reslens-journal.jsonl', 3);
    expect(error.message).toBe('/photos/results.csv.reslens-journal.jsonl holds an unfinished run (3 images done)');
    expect(error.toInfo().hint).toEqual({ actions: ['resume', 'restart'], file: '/photos/results.csv.reslens-journal.jsonl' });
    expect(withHint(error.message, error.hint)).toMatch(/unfinished run \(3 images done\); continue it with --resume, or start over with --restart$/);
    const app = errorText(error.toInfo());
    expect(app).toMatch(/Resume continues the unfinished run; or Start over replaces it\.$/);
    expect(app).not.toMatch(/--/);
  });

  it.each<[ErrorHint, RegExp, RegExp]>([
    [{ actions: ['import'], model: 'resnet50-v1' }, /reslens models import FILE --name resnet50-v1/, /Import a model file/],
    [{ actions: ['pull'], model: 'resnet152' }, /reslens models pull resnet152/, /Download resnet152/],
    [{ actions: ['remove'], model: 'mine' }, /reslens models rm mine/, /Remove mine/],
  ])("%o in each host's words", (hint, cli, app) => {
    expect(withHint('fact', hint)).toMatch(cli);
    const text = errorText({ code: ErrorCode.MODEL_NOT_FOUND, message: 'fact', hint });
    expect(text).toMatch(app);
    expect(text).not.toMatch(/reslens |--/);
  });

  it("a journaled run's closing lines (batch, lesion): how to continue a stopped run, the error that ended one with its hint", () => {
    expect(endLines({ state: 'finished' })).toEqual([]);
    expect(endLines({ state: 'cancelled' })).toEqual(['stopped: run the same command with --resume to continue']);
    const error = { code: ErrorCode.JOURNAL_LOCKED, message: 'another run uses this journal', hint: { actions: ['restart'] } satisfies ErrorHint };
    expect(endLines({ state: 'failed', error })).toEqual(['error JOURNAL_LOCKED: another run uses this journal; start over with --restart']);
  });

  it('no hint, no extra words', () => {
    expect(withHint('fact', undefined)).toBe('fact');
    expect(errorText({ code: ErrorCode.DECODE_FAILED, message: 'fact' })).toBe('DECODE_FAILED: fact');
  });
});
