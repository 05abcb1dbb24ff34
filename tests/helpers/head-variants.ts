// Rewrites a fixture's classifier head (GlobalAveragePool → Flatten → Gemm transB=1) into the other
// layouts exporters produce, with the same function: MatMul with a [features, classes] weight plus
// Add (TensorFlow/Keras-style exports), or a 1×1 Conv before the Flatten (some zoo models).
import { readFile, writeFile } from 'node:fs/promises';
import { type OnnxModel, type OnnxNode, TensorDataType, decodeModel, encodeModel, tensorFloats, toNumber } from '../../src-main/engine/model/onnx-proto.js';

export type HeadLayout = 'matmul' | 'conv';

export function rewriteHead(model: OnnxModel, layout: HeadLayout): OnnxModel {
  const nodes = model.graph.node;
  const gemmIndex = nodes.findIndex((n) => n.opType === 'Gemm');
  const gemm = nodes[gemmIndex];
  const flatten = nodes.find((n) => n.opType === 'Flatten' && n.output[0] === gemm.input[0]);
  if (!gemm || !flatten) throw new Error('fixture head is not Flatten → Gemm');
  const weightTensor = model.graph.initializer.find((t) => t.name === gemm.input[1]);
  if (!weightTensor) throw new Error('Gemm weight is not an initializer');
  const [classes, features] = weightTensor.dims.map(toNumber);
  const weight = tensorFloats(weightTensor);
  const raw = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let replacement: OnnxNode[];
  let initializer;
  if (layout === 'matmul') {
    const transposed = new Float32Array(weight.length);
    for (let c = 0; c < classes; c++) for (let f = 0; f < features; f++) transposed[f * classes + c] = weight[c * features + f];
    initializer = { name: 'fc.weight_t', dims: [features, classes], dataType: TensorDataType.FLOAT, rawData: raw(transposed) };
    replacement = [
      { name: '/fc/MatMul', opType: 'MatMul', input: [gemm.input[0], 'fc.weight_t'], output: ['/fc/MatMul_output_0'] },
      { name: '/fc/Add', opType: 'Add', input: ['/fc/MatMul_output_0', gemm.input[2]], output: [gemm.output[0]] },
    ];
  } else {
    initializer = { name: 'fc.weight_conv', dims: [classes, features, 1, 1], dataType: TensorDataType.FLOAT, rawData: raw(weight) };
    replacement = [
      { name: '/fc/Conv', opType: 'Conv', input: [flatten.input[0], 'fc.weight_conv', gemm.input[2]], output: ['/fc/Conv_output_0'] },
      { name: '/fc/Flatten', opType: 'Flatten', input: ['/fc/Conv_output_0'], output: [gemm.output[0]], attribute: flatten.attribute },
    ];
  }
  return {
    ...model,
    graph: {
      ...model.graph,
      node: [...nodes.slice(0, gemmIndex).filter((n) => layout === 'matmul' || n !== flatten), ...replacement, ...nodes.slice(gemmIndex + 1)],
      initializer: [...model.graph.initializer.filter((t) => t !== weightTensor), initializer],
    },
  };
}

/** Writes `source` with its head rewritten to `target`. */
export async function writeWithHead(source: string, target: string, layout: HeadLayout): Promise<string> {
  await writeFile(target, encodeModel(rewriteHead(decodeModel(await readFile(source)), layout)));
  return target;
}
