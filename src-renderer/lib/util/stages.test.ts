import { describe, expect, it } from 'vitest';
import { groupByStage } from './stages.js';

describe('groupByStage', () => {
  it('keeps network order and puts consecutive blocks of a stage in one column', () => {
    const blocks = [
      { id: 'layer1.0', stage: 'layer1' },
      { id: 'layer1.1', stage: 'layer1' },
      { id: 'layer2.0', stage: 'layer2' },
      { id: 'layer3.0', stage: 'layer3' },
      { id: 'layer3.1', stage: 'layer3' },
    ];
    const groups = groupByStage(blocks);
    expect(groups.map((g) => [g.stage, g.blocks.map((b) => b.id)])).toEqual([
      ['layer1', ['layer1.0', 'layer1.1']],
      ['layer2', ['layer2.0']],
      ['layer3', ['layer3.0', 'layer3.1']],
    ]);
    expect(groups[0].blocks[0]).toBe(blocks[0]);
  });

  it('gives no columns for no blocks', () => {
    expect(groupByStage([])).toEqual([]);
  });
});
