import { describe, expect, it } from 'vitest';
import { arrowTab } from './tablist.js';

describe('arrowTab', () => {
  it('moves right and left, wrapping at both ends', () => {
    expect(arrowTab('ArrowRight', 0, 3)).toBe(1);
    expect(arrowTab('ArrowRight', 2, 3)).toBe(0);
    expect(arrowTab('ArrowLeft', 0, 3)).toBe(2);
    expect(arrowTab('ArrowLeft', 2, 3)).toBe(1);
  });

  it('leaves other keys and empty tablists alone', () => {
    expect(arrowTab('ArrowDown', 1, 3)).toBeNull();
    expect(arrowTab('Enter', 1, 3)).toBeNull();
    expect(arrowTab('ArrowRight', 0, 0)).toBeNull();
  });
});
