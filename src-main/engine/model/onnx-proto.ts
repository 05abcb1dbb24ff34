// Typed access to ONNX protobuf messages (decode and encode) through protobufjs.
import protobuf from 'protobufjs';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';

/** int64 fields arrive as protobufjs Long objects (or plain numbers when small and set by us). */
export type Int64 = number | { toNumber(): number };

export interface OnnxDimension {
  dimValue?: Int64;
  dimParam?: string;
}
export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: OnnxDimension[] } } };
}
export interface OnnxAttribute {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: Int64[];
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: OnnxAttribute[];
}
export interface OnnxTensor {
  name: string;
  dims: Int64[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}
export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
}
export interface OnnxModel {
  irVersion: Int64;
  opsetImport: { domain?: string; version: Int64 }[];
  producerName?: string;
  producerVersion?: string;
  graph: OnnxGraph;
  metadataProps?: { key: string; value: string }[];
}

/** ONNX TensorProto.DataType values used here. */
export const TensorDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

let modelType: protobuf.Type | undefined;
function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SCHEMA, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function toNumber(value: Int64 | undefined | null): number {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Decodes an ONNX ModelProto. Throws protobufjs' error on malformed or truncated input. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const type = modelProtoType();
  const message = type.decode(bytes);
  return type.toObject(message, { longs: Number, bytes: Buffer, defaults: true, arrays: true }) as unknown as OnnxModel;
}

export function encodeModel(model: OnnxModel): Uint8Array {
  const type = modelProtoType();
  return type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
}

export function attributeOf(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intsAttribute(node: OnnxNode, name: string, fallback: number[]): number[] {
  const attr = attributeOf(node, name);
  return attr?.ints && attr.ints.length > 0 ? attr.ints.map(toNumber) : fallback;
}

export function intAttribute(node: OnnxNode, name: string, fallback: number): number {
  const attr = attributeOf(node, name);
  return attr && attr.i !== undefined ? toNumber(attr.i) : fallback;
}

/** Dimensions of a value (numbers, or the symbolic name for dynamic axes). */
export function valueShape(info: OnnxValueInfo): (number | string)[] | undefined {
  const dims = info.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : '?'));
}

/** Float32 view of a float tensor's data, wherever the exporter put it. */
export function tensorFloats(tensor: OnnxTensor): Float32Array {
  if (tensor.dataType !== TensorDataType.FLOAT) throw new Error(`tensor ${tensor.name} is not float32`);
  if (tensor.rawData && tensor.rawData.byteLength > 0) {
    const raw = tensor.rawData;
    // Copy: protobuf byte slices are not guaranteed to be 4-byte aligned.
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(tensor.floatData ?? []);
}
