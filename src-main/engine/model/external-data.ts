// External data: an ONNX tensor may keep its bytes in another file, named by a `location` inside the
// model. A malicious model names `../../etc/shadow`, or a harmless-looking `w.bin` that is a link to
// it, and onnxruntime reads whatever that is. ResLens checks every TensorProto the graph can hold
// (initializers, node attributes `t` and `tensors`, and the same again inside every subgraph `g` and
// `graphs`, at any depth): the location must be relative, must not step out by a `..` path segment
// (a file named `..w.bin` is fine), and its real path (links resolved) must lie inside the model's
// real folder, as a regular file.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { isSameOrBelow } from '../core/files.js';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { OnnxGraph, OnnxTensor } from './onnx-proto.js';

/** Every TensorProto in a graph and its subgraphs, with where it sits (for messages). */
export function* graphTensors(graph: OnnxGraph, where = 'graph'): Generator<{ tensor: OnnxTensor; where: string }> {
  for (const tensor of graph.initializer ?? []) yield { tensor, where: `${where} initializer` };
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      const at = `${where} node ${node.name || node.opType} attribute ${attribute.name}`;
      if (attribute.t) yield { tensor: attribute.t, where: at };
      for (const tensor of (attribute as { tensors?: OnnxTensor[] }).tensors ?? []) yield { tensor, where: at };
      if (attribute.g) yield* graphTensors(attribute.g, `${at} subgraph`);
      for (const sub of (attribute as { graphs?: OnnxGraph[] }).graphs ?? []) yield* graphTensors(sub, `${at} subgraph`);
    }
  }
}

const EXTERNAL = 1;

/**
 * Checks every external data reference of a model at `file`; returns the distinct locations
 * (relative to the model's folder). Throws INVALID_MODEL naming the tensor for the first bad one.
 */
export async function checkExternalData(file: string, graph: OnnxGraph): Promise<string[]> {
  const invalid = (message: string) => new EngineError(ErrorCode.INVALID_MODEL, message, { item: file });
  const folder = path.dirname(path.resolve(file));
  const realFolder = await realpath(folder);
  const locations = new Set<string>();
  for (const { tensor, where } of graphTensors(graph)) {
    if (tensor.dataLocation !== EXTERNAL) continue;
    const name = `tensor ${tensor.name || '(unnamed)'} (${where})`;
    const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
    if (!location) throw invalid(`${name} is stored externally but names no location`);
    if (location.includes('\0') || path.isAbsolute(location) || path.win32.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw invalid(`${name} points to external data outside the model's folder (${location}); refusing to read it`);
    }
    const target = path.resolve(folder, location);
    let real: string;
    try {
      real = await realpath(target);
    } catch {
      throw invalid(`${name} needs external data file ${location}, which is missing next to the model`);
    }
    if (!isSameOrBelow(real, realFolder))
      throw invalid(`${name}: external data file ${location} leads outside the model's folder (to ${real}); refusing to read it`);
    if (!(await stat(real)).isFile()) throw invalid(`${name}: external data ${location} is not a regular file`);
    locations.add(location);
  }
  return [...locations];
}
