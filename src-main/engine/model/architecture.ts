// The architecture panel's data: the ResNet paper's stage table (He et al. 2015, Table 1) computed
// from a loaded model rather than copied from the paper.
import type { ModelInfo } from './inspect.js';
import type { ConvSpec, StageMap } from './stages.js';
import { STAGE_NOTES } from './stage-notes.js';

export interface ArchitectureRow {
  stage: string;
  paperName: string;
  /** "56×56" */
  outputSize: string;
  channels: number;
  blocks: number;
  /** The paper's cell, e.g. "[1×1, 64; 3×3, 64; 1×1, 256] × 3" or "7×7, 64, stride 2; 3×3 max pool, stride 2". */
  pattern: string;
  layers: number;
  params: number;
  macs: number;
  /** Side of one map position's receptive field in input pixels. */
  receptiveField: number;
  /** What such stages usually respond to (stage-notes.ts). */
  note: string;
}

/** A residual block's place in the network, known from the stage table without running a photo. */
export interface ArchitectureBlock {
  /** torchvision's module name, as the block lens names it (`layer3.1`). */
  id: string;
  stage: string;
  index: number;
  /** The shortcut is a projection (the block changes the width or the resolution). */
  downsample: boolean;
  /** 2 where the block halves the resolution. */
  stride: number;
}

export interface ArchitectureSummary {
  /** e.g. "ResNet-50" when the layer count is a known depth. */
  name: string;
  rows: ArchitectureRow[];
  head: { pattern: string; params: number; macs: number };
  totalLayers: number;
  /** Why the network has that many layers, e.g. "1 + 3×(3+4+6+3) + 1 = 50". */
  layerCount: string;
  totalMacs: number;
  totalParams: number;
  /** Every residual block in forward order, for the Model view's block strip before any photo was classified. */
  blocks: ArchitectureBlock[];
}

const conv = (c: ConvSpec): string => `${c.kernel[0]}×${c.kernel[1]}, ${c.channels}`;

export function architectureSummary(map: StageMap, info: ModelInfo): ArchitectureSummary {
  const rows: ArchitectureRow[] = map.stages.map((s) => ({
    stage: s.name,
    paperName: s.paperName,
    outputSize: `${s.shape[1]}×${s.shape[2]}`,
    channels: s.shape[0],
    blocks: s.blocks,
    pattern:
      s.name === 'stem'
        ? `${s.blockConvs.map((c) => `${conv(c)}, stride ${c.stride}`).join('; ')}; 3×3 max pool, stride 2`
        : `[${s.blockConvs.map(conv).join('; ')}] × ${s.blocks}`,
    layers: s.layers,
    params: s.params,
    macs: s.macs,
    receptiveField: s.receptiveField.size,
    note: STAGE_NOTES[s.name],
  }));
  const stageParams = rows.reduce((sum, r) => sum + r.params, 0);
  const stageMacs = rows.reduce((sum, r) => sum + r.macs, 0);
  const convsPerBlock = map.stages.filter((s) => s.blocks > 0).map((s) => s.layers / s.blocks);
  const uniform = convsPerBlock.every((c) => c === convsPerBlock[0]);
  const blocks = map.stages.filter((s) => s.blocks > 0).map((s) => s.blocks);
  const stemLayers = map.stages[0].layers;
  const layerCount = uniform
    ? `${stemLayers} + ${convsPerBlock[0]}×(${blocks.join('+')}) + 1 = ${map.totalLayers}`
    : `${map.stages.map((s) => s.layers).join(' + ')} + 1 = ${map.totalLayers}`;
  const known = [18, 34, 50, 101, 152].includes(map.totalLayers);
  return {
    name: known ? `ResNet-${map.totalLayers}` : `residual network (${map.totalLayers} layers)`,
    rows,
    head: { pattern: `global average pool, ${map.head.classes}-d fc, softmax`, params: info.params - stageParams, macs: info.macs - stageMacs },
    totalLayers: map.totalLayers,
    layerCount,
    totalMacs: info.macs,
    totalParams: info.params,
    blocks: blockLayout(map),
  };
}

// Stage discovery groups blocks by output resolution, so only a stage's first block can change the
// resolution or the width; a block that changes either needs a projection shortcut (He et al. 2015,
// option B, torchvision's `downsample`). Block discovery (blocks/discover.ts) finds the same from
// the graph's Adds when a photo runs through the lens; this needs no graph walk at load.
function blockLayout(map: StageMap): ArchitectureBlock[] {
  const blocks: ArchitectureBlock[] = [];
  map.stages.forEach((s, i) => {
    if (s.name === 'stem' || s.blocks === 0 || i === 0) return;
    const before = map.stages[i - 1].shape;
    const stride = Math.max(1, Math.round(before[1] / s.shape[1]));
    for (let index = 0; index < s.blocks; index++) {
      const first = index === 0;
      blocks.push({
        id: `${s.name}.${index}`,
        stage: s.name,
        index,
        downsample: first && (stride > 1 || before[0] !== s.shape[0]),
        stride: first ? stride : 1,
      });
    }
  });
  return blocks;
}
