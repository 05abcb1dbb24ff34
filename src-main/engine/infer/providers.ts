// Execution providers: the names users type, the names onnxruntime-node expects, the order "auto"
// tries them in on each platform, and the per-provider numbers (probe tolerance, batch size). One
// small table so the rest of the engine never branches on platform.
//
// The auto rule (see docs/gpu.md):
//   1. Providers are tried one at a time in the platform's order; CPU is always last. A provider
//      that throws while loading (onnxruntime-node throws instead of falling back) is recorded with
//      its reason and the next one is tried.
//   2. WebGPU on Linux is tried only when the machine shows a GPU device node (/dev/dri/renderD*,
//      /dev/nvidia*, /dev/dxg). Without one, Dawn can only find a software Vulkan adapter (Mesa
//      lavapipe), which runs ResNet-50 at seconds per image — ten times slower than the CPU.
//   3. Every GPU session must pass a probe before it is trusted: one inference on a fixed input,
//      compared with the CPU (max |gpu − cpu| ≤ tolerance × max |cpu|, all values finite). Under
//      auto it must also not be slower than the CPU on that input once warm, which catches a
//      software adapter behind a hardware device node (and any GPU path slower than the CPU).
//      A forced provider (--ep webgpu) is held to correctness only.

import { EP_NAMES, type Ep, type EpRequest } from '../core/vocabulary.js';

/** Tried one at a time, first that loads (and passes its probe) wins; CPU always last. */
export function autoOrder(platform: NodeJS.Platform = process.platform): Ep[] {
  switch (platform) {
    case 'win32':
      return ['dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    case 'linux':
      // WebGPU only counts when a GPU device exists (see the rule above; session.ts gates it).
      return ['cuda', 'webgpu', 'cpu'];
    default:
      return ['cpu'];
  }
}

/** Every provider that can exist on a platform, in the order `reslens doctor` reports them. */
export function platformProviders(platform: NodeJS.Platform = process.platform): Ep[] {
  switch (platform) {
    case 'win32':
      return ['cpu', 'dml', 'webgpu', 'cuda'];
    case 'darwin':
      return ['cpu', 'coreml', 'webgpu'];
    case 'linux':
      return ['cpu', 'cuda', 'webgpu'];
    default:
      return ['cpu'];
  }
}

export function isEpRequest(value: string): value is EpRequest {
  return (EP_NAMES as readonly string[]).includes(value);
}

export const isGpuEp = (ep: Ep): boolean => ep !== 'cpu';

/** The API WebGPU (Dawn) drives on each platform. */
export function webgpuBackend(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'D3D12' : platform === 'darwin' ? 'Metal' : 'Vulkan';
}

export function describeEp(ep: Ep, platform: NodeJS.Platform = process.platform): string {
  return { cpu: 'CPU', cuda: 'GPU · CUDA', webgpu: `GPU · WebGPU (${webgpuBackend(platform)})`, dml: 'GPU · DirectML', coreml: 'GPU · CoreML' }[ep];
}

/** Display names used in messages ("CUDA unavailable: …"). */
export const EP_TITLES: Record<Ep, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU', dml: 'DirectML', coreml: 'CoreML' };

/**
 * Probe tolerance per provider, relative to the largest CPU logit magnitude. Measured where we
 * could: WebGPU on Mesa lavapipe differs from the CPU by ≤ 1e-6 relative on the ResNet-50/152
 * fixtures (fp32 throughout). CUDA enables TF32 convolutions and matmuls by default on Ampere and
 * later (10-bit mantissa), DirectML may pick reduced-precision metacommands, and CoreML computes in
 * fp16 on the GPU/Neural Engine: their bounds are set from those precisions and are checked by
 * `tests/bench/gpu.ts`, which records the measured difference next to the throughput.
 */
export const PROBE_TOLERANCE: Record<Ep, number> = { cpu: 0, webgpu: 1e-3, cuda: 2e-2, dml: 2e-2, coreml: 5e-2 };

/**
 * Images per inference run when the user leaves --batch at auto. CPU: throughput is flat from
 * batch 4 up (onnxruntime already uses every core within one image), and small batches keep
 * progress smooth and memory low. GPUs need wide batches to fill the device: CUDA throughput on
 * ResNet-50 keeps climbing to 32–64; WebGPU and DirectML dispatch overheads flatten out earlier.
 */
export const DEFAULT_BATCH: Record<Ep, number> = { cpu: 8, cuda: 32, webgpu: 16, dml: 16, coreml: 8 };

export function defaultBatchSize(ep: Ep): number {
  return DEFAULT_BATCH[ep];
}
