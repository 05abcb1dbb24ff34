// Reads an ONNX file and reports what ResLens needs to know before running it, or refuses it with
// a reason a person can act on. Structure only: whether onnxruntime can execute it is the session's job.
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { checkExternalData } from './external-data.js';
import { analyseShapes } from './graph-shapes.js';
import { type OnnxModel, TensorDataType, decodeModel, toNumber, valueShape } from './onnx-proto.js';

export type InputLayout = 'NCHW' | 'NHWC';

export interface ModelInput {
  name: string;
  /** As declared: numbers, or the symbolic name of a dynamic axis. */
  shape: (number | string)[];
  layout: InputLayout;
  channels: number;
  /** Declared spatial size; null where the axis is dynamic. */
  height: number | null;
  width: number | null;
  /** True when the batch axis is symbolic, so a session can take several images per run. */
  dynamicBatch: boolean;
}

export interface ModelInfo {
  path: string;
  bytes: number;
  sha256: string;
  irVersion: number;
  opset: number;
  producer: string;
  input: ModelInput;
  output: { name: string; shape: (number | string)[] };
  classes: number;
  /** Learned values stored in the graph (BatchNorm running statistics excluded, as torchvision counts). */
  params: number;
  /** Multiply-accumulates of Conv, Gemm and MatMul for one image at the declared (or 224×224) size. */
  macs: number;
  nodes: number;
  /** Operator histogram, e.g. { Conv: 53, Relu: 49 }. */
  operators: Record<string, number>;
  /** External data files the model reads (relative to its folder), each checked by external-data.ts. */
  externalFiles?: string[];
}

/** A decoded model together with its facts, for callers that go on to edit or analyse the graph. */
export interface InspectedModel {
  info: ModelInfo;
  model: OnnxModel;
}

const invalid = (file: string, message: string, cause?: unknown): EngineError => new EngineError(ErrorCode.INVALID_MODEL, message, { item: file, cause });
const unsupported = (file: string, message: string): EngineError => new EngineError(ErrorCode.UNSUPPORTED_MODEL, message, { item: file });

/**
 * First bytes an ONNX ModelProto can start with: the tag of one of its fields (ir_version, producer,
 * domain, model_version, doc_string, graph, opset_import, metadata_props, training_info, functions).
 * Every exporter writes ir_version (0x08) first; the rest keep hand-built files readable.
 */
const MODEL_FIRST_TAGS = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca]);
/** Protobuf messages cannot exceed 2 GiB: a bigger .onnx (without external data) cannot be a model. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

async function readModelBytes(file: string): Promise<Buffer> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw invalid(file, `${file} is a folder, not an ONNX model file`);
    if (!info.isFile()) throw new EngineError(ErrorCode.NOT_A_FILE, `${file} is not a regular file (a FIFO, device or socket)`, { item: file });
    if (info.size === 0) throw invalid(file, `${file} is empty`);
    if (info.size > MAX_MODEL_BYTES)
      throw invalid(
        file,
        `${path.basename(file)} is ${Math.round(info.size / 1048576)} MB, larger than any ONNX protobuf can be (2 GB); large models keep their weights in external data files`,
      );
    // A look at the first byte before reading it all: a 1.9 GB video given as --model was read whole before being refused.
    const handle = await open(file, 'r');
    try {
      const head = Buffer.alloc(1);
      await handle.read(head, 0, 1, 0);
      if (!MODEL_FIRST_TAGS.has(head[0]))
        throw invalid(file, `${path.basename(file)} is not an ONNX file (it does not start like one: first byte 0x${head[0].toString(16).padStart(2, '0')})`);
    } finally {
      await handle.close();
    }
    return await readFile(file);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EngineError(ErrorCode.MODEL_NOT_FOUND, `model file not found: ${file}`, { item: file });
    throw invalid(file, `cannot read ${file}: ${(error as Error).message}`, error);
  }
}

function decodeOrExplain(file: string, bytes: Buffer): OnnxModel {
  let model: OnnxModel;
  try {
    model = decodeModel(bytes);
  } catch (error) {
    const message = (error as Error).message;
    // protobufjs reports reading past the end as "index out of range": the file was cut short.
    if (/index out of range|premature EOF/i.test(message)) {
      throw invalid(file, `${path.basename(file)} is truncated or not an ONNX file (protobuf ended early: ${message})`, error);
    }
    throw invalid(file, `${path.basename(file)} is not an ONNX file (${message})`, error);
  }
  if (!model.graph || model.graph.node.length === 0 || toNumber(model.irVersion) <= 0) {
    throw invalid(file, `${path.basename(file)} is not an ONNX model: no graph or IR version found`);
  }
  return model;
}

function describeInput(file: string, model: OnnxModel): ModelInput {
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const inputs = model.graph.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    throw unsupported(file, `expected one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  const input = inputs[0];
  const elemType = input.type?.tensorType?.elemType;
  const shape = valueShape(input);
  if (elemType !== TensorDataType.FLOAT || !shape || shape.length !== 4) {
    throw unsupported(
      file,
      `input ${input.name} is not an image tensor: expected float32 [N,3,H,W] or [N,H,W,3], found ${elemType === TensorDataType.FLOAT ? 'float32' : `element type ${elemType}`} ${JSON.stringify(shape ?? 'without shape')}`,
    );
  }
  const dim = (value: number | string): number | null => (typeof value === 'number' ? value : null);
  let layout: InputLayout;
  if (shape[1] === 3) layout = 'NCHW';
  else if (shape[3] === 3) layout = 'NHWC';
  else throw unsupported(file, `input ${input.name} ${JSON.stringify(shape)} has no 3-channel (RGB) axis`);
  const [height, width] = layout === 'NCHW' ? [dim(shape[2]), dim(shape[3])] : [dim(shape[1]), dim(shape[2])];
  return { name: input.name, shape, layout, channels: 3, height, width, dynamicBatch: typeof shape[0] !== 'number' || shape[0] === 0 };
}

function countParams(model: OnnxModel): number {
  const runningStats = new Set<string>();
  for (const node of model.graph.node) {
    if (node.opType === 'BatchNormalization') {
      runningStats.add(node.input[3]);
      runningStats.add(node.input[4]);
    }
  }
  let total = 0;
  for (const t of model.graph.initializer) {
    const isWeight = t.dataType === TensorDataType.FLOAT || t.dataType === TensorDataType.FLOAT16 || t.dataType === TensorDataType.DOUBLE;
    if (isWeight && !runningStats.has(t.name)) total += t.dims.map(toNumber).reduce((p, d) => p * d, 1);
  }
  return total;
}

function aiOnnxOpset(model: OnnxModel): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 0;
}

/** Facts about an already decoded model (validation included); `file` names it in errors. */
export function describeModel(file: string, model: OnnxModel, bytes: number, sha256: string): ModelInfo {
  const input = describeInput(file, model);
  const graphOutput = model.graph.output[0];
  const outputShape = graphOutput ? valueShape(graphOutput) : undefined;
  const height = input.height ?? 224;
  const width = input.width ?? 224;
  const analysis = analyseShapes(model.graph, input.name, input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3]);
  const derived = graphOutput ? analysis.shapes.get(graphOutput.name) : undefined;
  const declaredClasses = outputShape && outputShape.length === 2 && typeof outputShape[1] === 'number' ? outputShape[1] : undefined;
  const classes = declaredClasses ?? (derived && derived.length === 2 ? derived[1] : undefined);
  if (!graphOutput || !classes || classes < 2 || (outputShape && outputShape.length !== 2)) {
    throw unsupported(
      file,
      `output ${graphOutput?.name ?? '(none)'} is not a class vector: expected [N, classes], found ${JSON.stringify(outputShape ?? derived ?? null)}`,
    );
  }

  const operators: Record<string, number> = {};
  for (const node of model.graph.node) operators[node.opType] = (operators[node.opType] ?? 0) + 1;

  const info: ModelInfo = {
    path: path.resolve(file),
    bytes,
    sha256,
    irVersion: toNumber(model.irVersion),
    opset: aiOnnxOpset(model),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    input,
    output: { name: graphOutput.name, shape: outputShape ?? [] },
    classes,
    params: countParams(model),
    macs: analysis.totalMacs,
    nodes: model.graph.node.length,
    operators,
  };
  if (info.opset < 7) throw unsupported(file, `opset ${info.opset} is older than ResLens supports (7 or newer)`);
  return info;
}

/** Decodes and validates a model file, keeping the decoded graph for further analysis. */
export async function loadAndInspect(file: string): Promise<InspectedModel> {
  const bytes = await readModelBytes(file);
  const model = decodeOrExplain(file, bytes);
  const externalFiles = await checkExternalData(file, model.graph);
  const info = describeModel(file, model, bytes.byteLength, createHash('sha256').update(bytes).digest('hex'));
  if (externalFiles.length > 0) info.externalFiles = externalFiles;
  return { info, model };
}

/** Facts about a model file; throws EngineError INVALID_MODEL / UNSUPPORTED_MODEL / MODEL_NOT_FOUND. */
export async function inspectModelFile(file: string): Promise<ModelInfo> {
  return (await loadAndInspect(file)).info;
}
