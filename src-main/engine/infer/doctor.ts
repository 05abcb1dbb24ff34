// `reslens doctor` and the app's About panel: which execution providers exist, which load, which
// fail and why, what auto would choose, and the machine and library versions around them. Plain
// data (JSON-safe) so every host shows the same report.
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type OnnxNode, type OnnxTensor, TensorDataType, encodeModel } from '../model/onnx-proto.js';
import { type CpuInfo, type GpuInfo, type VulkanInfo, cpuInfo, gpuDeviceNodes, listGpus, onnxruntimeBinDir, vulkanInfo } from './hardware.js';
import { EP_TITLES, autoOrder, platformProviders } from './providers.js';
import { type Ep, type EpRequest } from '../core/vocabulary.js';
import type { EpAttempt } from './provider-attempt.js';
import { type SessionChoice, checkProviders, createSession, describeChoice } from './session.js';
import type { ModelSource } from './session-create.js';

export interface ProviderReport extends EpAttempt {
  title: string;
  /** onnxruntime-node ships it for this platform (CUDA is an opt-in install). */
  bundled: boolean;
  /** Part of auto's order on this platform. */
  inAuto: boolean;
}

export interface DoctorReport {
  /** What the requested provider (auto by default) chooses, as people read it. */
  backend: string;
  selected: { request: EpRequest; ep?: Ep; attempts: EpAttempt[]; error?: ErrorInfo };
  providers: ProviderReport[];
  autoOrder: Ep[];
  probeModel: string;
  cpu: CpuInfo & { threads: number };
  gpus: GpuInfo[];
  /** GPU device nodes (Linux): none means any Vulkan adapter is a software one. */
  deviceNodes: string[];
  vulkan?: VulkanInfo;
  versions: { reslens?: string; onnxruntime: string; node: string; electron?: string; sharp: string; libvips: string; platform: string; os: string };
  onnxruntime: { binDir?: string; backends: { name: string; bundled: boolean }[] };
}

export interface DoctorOptions {
  /** What to diagnose as the selected backend (default auto). */
  ep?: EpRequest;
  /** A model file to probe with instead of the built-in probe network. */
  model?: ModelSource;
  modelName?: string;
  threads?: number;
  /** The host application's version, shown with the others. */
  appVersion?: string;
}

// ---------------------------------------------------------------------------------------------
// The built-in probe network: a small residual CNN on a 224×224 image (conv 3→32 stride 2, two
// 3×3 convs at 112×112 with a residual add, global pool, 1000-way linear head; ~0.7 GMACs), with
// deterministic weights. Heavy enough that a GPU slower than the CPU shows it, small enough to
// load in milliseconds, and made of the operators ResNets use.

function weights(name: string, dims: number[], fanIn: number, seed: number): OnnxTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  const scale = Math.sqrt(6 / fanIn); // He-uniform for ReLU networks
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = ((s >>> 8) / 2 ** 24 - 0.5) * scale;
  }
  return { name, dims, dataType: TensorDataType.FLOAT, rawData: new Uint8Array(data.buffer) };
}

export function probeNetwork(): Uint8Array {
  const conv = (input: string, output: string, weight: string, stride: number): OnnxNode => ({
    opType: 'Conv',
    input: [input, weight, `${weight}.bias`],
    output: [output],
    attribute: [
      { name: 'kernel_shape', type: 7, ints: [3, 3] },
      { name: 'pads', type: 7, ints: [1, 1, 1, 1] },
      { name: 'strides', type: 7, ints: [stride, stride] },
    ],
  });
  const zeros = (name: string, n: number): OnnxTensor => ({ name, dims: [n], dataType: TensorDataType.FLOAT, rawData: new Uint8Array(n * 4) });
  const image = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'reslens-probe',
    graph: {
      name: 'probe',
      node: [
        conv('input', 'c1', 'conv1.weight', 2),
        { opType: 'Relu', input: ['c1'], output: ['r1'] },
        conv('r1', 'c2', 'conv2.weight', 1),
        { opType: 'Relu', input: ['c2'], output: ['r2'] },
        conv('r2', 'c3', 'conv3.weight', 1),
        { opType: 'Add', input: ['c3', 'r2'], output: ['sum'] },
        { opType: 'Relu', input: ['sum'], output: ['r3'] },
        { opType: 'GlobalAveragePool', input: ['r3'], output: ['pooled'] },
        { opType: 'Flatten', input: ['pooled'], output: ['flat'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
        { opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
      ],
      initializer: [
        weights('conv1.weight', [32, 3, 3, 3], 27, 1),
        zeros('conv1.weight.bias', 32),
        weights('conv2.weight', [64, 32, 3, 3], 288, 2),
        zeros('conv2.weight.bias', 64),
        weights('conv3.weight', [64, 64, 3, 3], 576, 3),
        zeros('conv3.weight.bias', 64),
        weights('fc.weight', [1000, 64], 64, 4),
        zeros('fc.bias', 1000),
      ],
      input: [image('input', ['N', 3, 224, 224])],
      output: [image('logits', ['N', 1000])],
    },
  });
}

// ---------------------------------------------------------------------------------------------

/** The detail after "GPU · CUDA": the device's name where we can learn it. */
export function backendDetail(ep: Ep, gpus: GpuInfo[], vulkan?: VulkanInfo, deviceNodes: string[] = []): string | undefined {
  if (ep === 'cuda') return gpus.find((g) => g.vendor === 'NVIDIA')?.name;
  if (ep === 'webgpu' && process.platform === 'linux') {
    const adapters = vulkan?.adapters ?? [];
    const hardware = adapters.find((a) => a.type !== 'cpu');
    if (hardware) return hardware.name;
    if (adapters[0]) return `${adapters[0].name} (software)`;
    if (deviceNodes.length === 0 && vulkan?.drivers.includes('lvp')) return 'Mesa lavapipe (software: no GPU device nodes)';
    return gpus[0]?.name;
  }
  return gpus[0]?.name;
}

/** The one line for a loaded classifier or session: device names looked up as needed. */
export async function describeBackend(choice: Pick<SessionChoice, 'ep' | 'attempts' | 'threads'>): Promise<string> {
  if (choice.ep === 'cpu') return describeChoice(choice);
  const [gpus, vulkan] = await Promise.all([listGpus(), choice.ep === 'webgpu' && process.platform === 'linux' ? vulkanInfo() : Promise.resolve(undefined)]);
  return describeChoice(choice, backendDetail(choice.ep, gpus, vulkan, gpuDeviceNodes()));
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const request = options.ep ?? 'auto';
  const threads = options.threads ?? os.availableParallelism();
  const model = options.model ?? probeNetwork();
  const probeModel = options.model
    ? (options.modelName ?? (typeof options.model === 'string' ? options.model : 'given model'))
    : 'built-in probe network (3 convolutions with a residual add, 224×224 input, 1000 classes; ~0.7 GMACs)';
  const [gpus, vulkan] = await Promise.all([listGpus(), process.platform === 'linux' ? vulkanInfo() : Promise.resolve(undefined)]);
  const deviceNodes = gpuDeviceNodes();
  const backends = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));

  const eps = platformProviders();
  if (request !== 'auto' && !eps.includes(request)) eps.push(request);
  const attempts = await checkProviders(model, eps, { threads });
  const order = autoOrder();
  const providers: ProviderReport[] = attempts.map((a) => ({
    ...a,
    title: EP_TITLES[a.ep],
    bundled: backends.some((b) => b.name === a.ep && b.bundled),
    inAuto: order.includes(a.ep),
  }));

  let selected: DoctorReport['selected'];
  let backend: string;
  try {
    const choice = await createSession(model, { ep: request, threads });
    await choice.session.release();
    selected = { request, ep: choice.ep, attempts: choice.attempts };
    backend = describeChoice(choice, choice.ep === 'cpu' ? undefined : backendDetail(choice.ep, gpus, vulkan, deviceNodes));
  } catch (error) {
    const info = toErrorInfo(error, ErrorCode.EP_UNAVAILABLE);
    selected = { request, attempts: [], error: info };
    backend = `none — ${info.message}`;
  }

  const vips = sharp.versions;
  return {
    backend,
    selected,
    providers,
    autoOrder: order,
    probeModel,
    cpu: { ...cpuInfo(), threads },
    gpus,
    deviceNodes,
    ...(vulkan ? { vulkan } : {}),
    versions: {
      ...(options.appVersion ? { reslens: options.appVersion } : {}),
      onnxruntime: ort.env.versions.common,
      node: process.version,
      ...(process.versions.electron ? { electron: process.versions.electron } : {}),
      sharp: vips.sharp ?? 'unknown',
      libvips: vips.vips,
      platform: `${process.platform}-${process.arch}`,
      os: `${os.type()} ${os.release()}`,
    },
    onnxruntime: { binDir: onnxruntimeBinDir(), backends },
  };
}

// ---------------------------------------------------------------------------------------------
// Text rendering (the CLI's, reusable by any host that wants lines rather than a panel)

function ms(value: number | undefined): string {
  return value === undefined ? '?' : value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

function attemptLine(a: EpAttempt): string {
  if (!a.ok) return a.reason ?? '';
  const parts = [`${a.probe ? 'load + probe' : 'load'} ${ms(a.ms)}`];
  if (a.probe) {
    parts.push(`probe run ${ms(a.probe.firstMs)} first, ${ms(a.probe.warmMs)} warm (CPU ${ms(a.probe.cpuMs)})`);
    parts.push(
      `max diff ${a.probe.maxRelDiff.toExponential(1)} relative (allowed ${a.probe.tolerance.toExponential(0)}), top-5 ${a.probe.top5Equal ? 'equal' : 'differs'}`,
    );
  }
  return parts.join(' · ');
}

export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  lines.push(`Backend (${report.selected.request}): ${report.backend}`);
  for (const a of report.selected.attempts) lines.push(`  ${pad(a.ep, 7)} ${pad(a.status, 12)} ${a.ok ? '' : (a.reason ?? '')}`.trimEnd());
  lines.push('');
  lines.push(
    `Providers (each forced, probed against the CPU on the ${report.probeModel.startsWith('built-in') ? 'built-in probe network' : report.probeModel}):`,
  );
  for (const p of report.providers) {
    const tags = [p.bundled ? 'bundled' : 'opt-in', p.inAuto ? 'in auto' : 'forced only'].join(', ');
    lines.push(`  ${pad(p.title, 9)} ${pad(p.status, 12)} ${pad(`(${tags})`, 22)} ${attemptLine(p)}`.trimEnd());
  }
  lines.push(`  auto order here: ${report.autoOrder.join(' → ')}`);
  lines.push('');
  lines.push('Hardware:');
  lines.push(`  CPU      ${report.cpu.model} · ${report.cpu.logicalCores} logical cores · ${report.cpu.threads} inference threads`);
  lines.push(`  GPUs     ${report.gpus.length > 0 ? report.gpus.map((g) => g.name).join('; ') : 'none found'}`);
  if (process.platform === 'linux')
    lines.push(`  devices  ${report.deviceNodes.length > 0 ? report.deviceNodes.join(', ') : 'no GPU device nodes (/dev/dri/renderD*, /dev/nvidia*)'}`);
  if (report.vulkan) {
    const v = report.vulkan;
    lines.push(`  Vulkan   loader ${v.loader ?? 'not found (libvulkan1)'} · drivers: ${v.drivers.length > 0 ? v.drivers.join(', ') : 'none'}`);
    if (v.adapters) lines.push(`           adapters: ${v.adapters.map((a) => `${a.name}${a.type ? ` [${a.type}]` : ''}`).join('; ') || 'none'}`);
    else lines.push(`           adapter: ${backendDetail('webgpu', [], v, report.deviceNodes) ?? 'unknown'} · vulkaninfo not installed`);
  }
  lines.push('');
  const v = report.versions;
  lines.push('Versions:');
  lines.push(
    `  ${[v.reslens ? `reslens ${v.reslens}` : '', `onnxruntime-node ${v.onnxruntime}`, `node ${v.node}`, v.electron ? `electron ${v.electron}` : '', `sharp ${v.sharp}`, `libvips ${v.libvips}`].filter(Boolean).join(' · ')}`,
  );
  lines.push(`  ${v.platform} · ${v.os}`);
  lines.push(`  onnxruntime backends: ${report.onnxruntime.backends.map((b) => `${b.name}${b.bundled ? '' : ' (opt-in)'}`).join(', ')}`);
  if (report.onnxruntime.binDir) lines.push(`  onnxruntime libraries: ${report.onnxruntime.binDir}`);
  return `${lines.join('\n')}\n`;
}
