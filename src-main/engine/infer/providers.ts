// Execution providers: the names users type, the names onnxruntime-node expects, and the order
// "auto" tries them in on each platform. One small table so the rest of the engine never branches
// on platform.

export const EP_NAMES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type EpRequest = (typeof EP_NAMES)[number];
export type Ep = Exclude<EpRequest, 'auto'>;

/** Tried one at a time, first that loads (and passes its probe) wins; CPU always last. */
export function autoOrder(platform: NodeJS.Platform = process.platform): Ep[] {
  switch (platform) {
    case 'win32':
      return ['dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    case 'linux':
      // WebGPU is left to an explicit --ep webgpu until the engine can tell a hardware adapter from
      // a software one (Mesa lavapipe runs ResNet at seconds per image).
      return ['cuda', 'cpu'];
    default:
      return ['cpu'];
  }
}

export function isEpRequest(value: string): value is EpRequest {
  return (EP_NAMES as readonly string[]).includes(value);
}

export function describeEp(ep: Ep): string {
  return { cpu: 'CPU', cuda: 'GPU · CUDA', webgpu: 'GPU · WebGPU', dml: 'GPU · DirectML', coreml: 'GPU · CoreML' }[ep];
}
