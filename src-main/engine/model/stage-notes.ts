// One sentence per stage on what such stages usually respond to, for the feature view, the Model
// table and the report. Drawn from the ResNet articles in shared/seeds: early layers "extract
// low-level features that will be used by later ones" (stochastic-depth notes), each stage halves
// the resolution and doubles the width (stride-2 first convolution), and three 3×3 convolutions see
// as far as one 7×7 (annotated ResNet). The sentences say "usually": a map shows what this model does.
import type { StageName } from '../core/vocabulary.js';

export const STAGE_NOTES: Record<StageName, string> = {
  stem: 'The stem (7×7 convolution, stride 2, then 3×3 max pool) sees small patches: such layers usually respond to edges, colour contrasts and simple gradients.',
  layer1: "conv2_x keeps the stem's resolution and combines its edges: such stages usually respond to corners, simple textures and repeated fine patterns.",
  layer2: "conv3_x halves the resolution and doubles the width: such stages usually respond to textures and small motifs (fur, mesh, stripes, wheels' spokes).",
  layer3: 'conv4_x sees most of the photo from each position: such stages usually respond to object parts (eyes, faces, wheels, leaves) at many places.',
  layer4: 'conv5_x is what the classifier reads (after global average pooling): such stages usually respond to whole objects and the class evidence itself.',
};
