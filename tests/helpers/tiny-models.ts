// Small hand-built ONNX graphs for the model-validation tests: each is a real, encodable ModelProto
// that is wrong in exactly one way.
import { type OnnxModel, type OnnxTensor, type OnnxValueInfo, encodeModel } from '../../src-main/engine/model/onnx-proto.js';

const FLOAT = 1;

function value(name: string, dims: (number | string)[], elemType = FLOAT): OnnxValueInfo {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function floats(name: string, dims: number[], fill = 0.01): OnnxTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  return { name, dims, dataType: FLOAT, rawData: Buffer.from(new Float32Array(count).fill(fill).buffer) };
}

function model(graph: Partial<OnnxModel['graph']>): Uint8Array {
  return encodeModel({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'reslens-tests',
    graph: { node: [], initializer: [], input: [], output: [], ...graph },
  });
}

/** A vector input [N,10] → Gemm → [N,5]: runs, but is no image model. */
export function vectorInputModel(): Uint8Array {
  return model({
    node: [{ opType: 'Gemm', input: ['x', 'w', 'b'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] }],
    initializer: [floats('w', [5, 10]), floats('b', [5])],
    input: [value('x', ['N', 10])],
    output: [value('y', ['N', 5])],
  });
}

/** An image in, an image out ([N,3,224,224] → Relu): no class vector. */
export function imageOutputModel(): Uint8Array {
  return model({
    node: [{ opType: 'Relu', input: ['input'], output: ['y'] }],
    input: [value('input', ['N', 3, 224, 224])],
    output: [value('y', ['N', 3, 224, 224])],
  });
}

/** A tiny valid classifier: GlobalAveragePool → Flatten → Gemm to `classes` outputs. */
export function tinyClassifier(classes = 4, externalLocation?: string): Uint8Array {
  const weight = floats('fc.weight', [classes, 3]);
  if (externalLocation) {
    delete weight.rawData;
    weight.dataLocation = 1;
    weight.externalData = [
      { key: 'location', value: externalLocation },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(classes * 3 * 4) },
    ];
  }
  return model({
    node: [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Flatten', input: ['pooled'], output: ['flat'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      { opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ],
    initializer: [weight, floats('fc.bias', [classes], 0)],
    input: [value('input', ['N', 3, 224, 224])],
    output: [value('logits', ['N', classes])],
  });
}

/**
 * tinyClassifier whose weight comes from a Constant node (its `value` attribute), optionally stored
 * as external data, optionally inside an If node's subgraph: places a TensorProto can hide that are
 * not initializers.
 */
export function tinyClassifierConstantWeight(classes = 4, externalLocation?: string, inSubgraph = false): Uint8Array {
  const weight = floats('fc.weight', [classes, 3]);
  if (externalLocation) {
    delete weight.rawData;
    weight.dataLocation = 1;
    weight.externalData = [
      { key: 'location', value: externalLocation },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(classes * 3 * 4) },
    ];
  }
  const constant = { opType: 'Constant', input: [], output: ['fc.weight'], attribute: [{ name: 'value', type: 4, t: weight }] };
  const branch = (name: string) => ({ name, node: [constant], initializer: [], input: [], output: [value('fc.weight', [classes, 3])] });
  const weightNodes = inSubgraph
    ? [
        {
          opType: 'Constant',
          input: [],
          output: ['cond'],
          attribute: [{ name: 'value', type: 4, t: { name: 'c', dims: [], dataType: 9, rawData: Buffer.from([1]) } }],
        },
        {
          opType: 'If',
          input: ['cond'],
          output: ['fc.weight'],
          attribute: [
            { name: 'then_branch', type: 5, g: branch('then') },
            { name: 'else_branch', type: 5, g: branch('else') },
          ],
        },
      ]
    : [constant];
  return model({
    node: [
      ...weightNodes,
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Flatten', input: ['pooled'], output: ['flat'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      { opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ],
    initializer: [floats('fc.bias', [classes], 0)],
    input: [value('input', ['N', 3, 224, 224])],
    output: [value('logits', ['N', classes])],
  });
}

/**
 * A fast stand-in for ResNet where the network's cost is not what a test is about (the queue tests):
 * GlobalAveragePool → Flatten → Gemm to the 1000 ImageNet classes, weights from a seeded generator, so
 * each image's answer depends on its colours and two seeds are two different models (SHA-256).
 */
export function colourClassifier(seed = 1): Uint8Array {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const weights = new Float32Array(1000 * 3).map(() => next() * 40);
  const bias = new Float32Array(1000).map(() => next());
  return model({
    node: [
      { opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
      { opType: 'Flatten', input: ['pooled'], output: ['flat'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      { opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ],
    initializer: [
      { name: 'fc.weight', dims: [1000, 3], dataType: FLOAT, rawData: Buffer.from(weights.buffer) },
      { name: 'fc.bias', dims: [1000], dataType: FLOAT, rawData: Buffer.from(bias.buffer) },
    ],
    input: [value('input', ['N', 3, 224, 224])],
    output: [value('logits', ['N', 1000])],
  });
}
