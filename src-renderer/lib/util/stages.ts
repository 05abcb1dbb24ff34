// Residual blocks grouped by stage, for the block strips (the Model view's structure and the feature
// view's measured strip draw the same columns).

/** Runs of consecutive blocks of one stage, in network order (blocks arrive stage by stage). */
export function groupByStage<B extends { stage: string }>(blocks: readonly B[]): { stage: string; blocks: B[] }[] {
  const groups: { stage: string; blocks: B[] }[] = [];
  for (const b of blocks) {
    const last = groups[groups.length - 1];
    if (last && last.stage === b.stage) last.blocks.push(b);
    else groups.push({ stage: b.stage, blocks: [b] });
  }
  return groups;
}
