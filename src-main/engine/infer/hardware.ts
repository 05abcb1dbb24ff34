// What the machine offers for inference: CPU model, GPU devices and their names, the Vulkan loader
// and drivers, where onnxruntime's provider libraries live and what the CUDA provider is missing.
// Every probe is best effort: a missing tool (nvidia-smi, vulkaninfo, ldd) means "unknown", never
// an error. Plain data only, so `reslens doctor` and the app's About panel show the same thing.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export interface CpuInfo {
  model: string;
  /** Logical processors (what onnxruntime's thread pool sizes itself by). */
  logicalCores: number;
}

export interface GpuInfo {
  name: string;
  vendor?: string;
  /** Where the name came from: nvidia-smi, /proc/driver/nvidia, /sys/class/drm, vulkaninfo. */
  source: 'nvidia-smi' | 'proc-nvidia' | 'drm' | 'vulkaninfo';
  /** Vulkan device type when known: discrete, integrated, virtual, cpu (software), other. */
  type?: string;
  driver?: string;
}

export interface VulkanInfo {
  /** Path of libvulkan.so.1 (the loader Dawn needs), when found. */
  loader?: string;
  /** Installed Vulkan drivers (ICD manifests), e.g. lvp (Mesa lavapipe, software), radeon, intel, nvidia. */
  drivers: string[];
  /** Adapters as vulkaninfo --summary lists them, when vulkaninfo is installed. */
  adapters?: GpuInfo[];
}

const VENDORS: Record<string, string> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x1022': 'AMD',
  '0x8086': 'Intel',
  '0x1af4': 'virtio',
  '0x15ad': 'VMware',
  '0x1414': 'Microsoft',
  '0x13b5': 'ARM',
  '0x5143': 'Qualcomm',
  '0x106b': 'Apple',
  '0x10005': 'Mesa',
};

/** Runs a tool with a time limit; undefined when it is missing, fails or times out. */
export function tryExec(file: string, args: string[], timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    try {
      execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (error, stdout) =>
        resolve(error ? undefined : stdout),
      );
    } catch {
      resolve(undefined);
    }
  });
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function cpuInfo(): CpuInfo {
  const cpus = os.cpus();
  let model = cpus[0]?.model?.trim() ?? '';
  if (!model && process.platform === 'linux') {
    // Some ARM kernels leave "model name" out of /proc/cpuinfo; the hardware or processor line says more than nothing.
    const text = readText('/proc/cpuinfo') ?? '';
    model = /^(?:model name|Hardware|Processor)\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? '';
  }
  return { model: model || 'unknown CPU', logicalCores: os.availableParallelism() };
}

/**
 * Device nodes through which a hardware GPU can be reached on Linux: DRM render nodes (Mesa and
 * AMD/Intel drivers), NVIDIA's proprietary nodes, WSL's /dev/dxg. Without any of them a Vulkan
 * adapter can only be a software one.
 */
export function gpuDeviceNodes(platform: NodeJS.Platform = process.platform): string[] {
  if (platform !== 'linux') return [];
  const nodes = listDir('/dev/dri')
    .filter((f) => f.startsWith('renderD'))
    .map((f) => `/dev/dri/${f}`);
  nodes.push(
    ...listDir('/dev')
      .filter((f) => /^nvidia\d+$/.test(f) || f === 'dxg')
      .map((f) => `/dev/${f}`),
  );
  return nodes.sort();
}

/** NVIDIA GPUs by name: nvidia-smi -L, else the driver's /proc entries. */
export async function nvidiaGpus(): Promise<GpuInfo[]> {
  const listed = await tryExec('nvidia-smi', ['-L']);
  if (listed) {
    const gpus = [...listed.matchAll(/^GPU \d+: (.+?)(?: \(UUID: [^)]*\))?$/gm)].map((m) => ({
      name: m[1].trim(),
      vendor: 'NVIDIA',
      source: 'nvidia-smi' as const,
    }));
    if (gpus.length > 0) return gpus;
  }
  return listDir('/proc/driver/nvidia/gpus')
    .map((bus) => /^Model:\s*(.+)$/m.exec(readText(`/proc/driver/nvidia/gpus/${bus}/information`) ?? '')?.[1]?.trim())
    .filter((name): name is string => Boolean(name))
    .map((name) => ({ name, vendor: 'NVIDIA', source: 'proc-nvidia' as const }));
}

/** GPUs the kernel's DRM subsystem knows (Linux): vendor, PCI ids and driver, no marketing name. */
export function drmGpus(): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const card of listDir('/sys/class/drm').filter((f) => /^card\d+$/.test(f))) {
    const device = `/sys/class/drm/${card}/device`;
    const vendorId = readText(`${device}/vendor`)?.trim();
    if (!vendorId) continue;
    const deviceId = readText(`${device}/device`)?.trim() ?? '?';
    let driver: string | undefined;
    try {
      driver = path.basename(readlinkSync(`${device}/driver`));
    } catch {
      driver = undefined;
    }
    const vendor = VENDORS[vendorId] ?? vendorId;
    gpus.push({
      name: `${vendor} GPU ${vendorId.replace(/^0x/, '')}:${deviceId.replace(/^0x/, '')}${driver ? ` (${driver} driver)` : ''}`,
      vendor,
      source: 'drm',
      driver,
    });
  }
  return gpus;
}

/** Parses `vulkaninfo --summary`'s device blocks. */
export function parseVulkanSummary(text: string): GpuInfo[] {
  const devices: GpuInfo[] = [];
  for (const block of text.split(/^GPU\d+:\s*$/m).slice(1)) {
    const field = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(block)?.[1]?.trim();
    const name = field('deviceName');
    if (!name) continue;
    const type = field('deviceType')
      ?.replace(/^PHYSICAL_DEVICE_TYPE_/, '')
      .replace(/_GPU$/, '')
      .toLowerCase();
    const vendorId = field('vendorID');
    devices.push({
      name,
      vendor: vendorId ? (VENDORS[vendorId.toLowerCase()] ?? vendorId) : undefined,
      source: 'vulkaninfo',
      type,
      driver: field('driverInfo') ?? field('driverName'),
    });
  }
  return devices;
}

const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

export async function vulkanInfo(): Promise<VulkanInfo> {
  const drivers = [
    ...new Set(
      VULKAN_ICD_DIRS.flatMap((dir) => listDir(dir))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.replace(/(_icd)?(\.[a-z0-9_]+)?\.json$/, '')),
    ),
  ].sort();
  const summary = await tryExec('vulkaninfo', ['--summary'], 10_000);
  const adapters = summary ? parseVulkanSummary(summary) : undefined;
  return { loader: findSharedLibrary('libvulkan.so.1'), drivers, ...(adapters ? { adapters } : {}) };
}

/** Every GPU we can name, NVIDIA first (with marketing names), then other DRM devices. */
export async function listGpus(): Promise<GpuInfo[]> {
  if (process.platform !== 'linux') return [];
  const nvidia = await nvidiaGpus();
  const drm = drmGpus().filter((g) => !(nvidia.length > 0 && g.vendor === 'NVIDIA'));
  return [...nvidia, ...drm];
}

// ---------------------------------------------------------------------------------------------
// onnxruntime's native folder and the CUDA provider's dependencies

/** The folder holding libonnxruntime.so.1 (and where provider libraries must be placed). */
export function onnxruntimeBinDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const root = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
    // Packaged Electron apps unpack native files beside the asar archive.
    return path.join(root, 'bin', 'napi-v6', process.platform, process.arch).replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
  } catch {
    return undefined;
  }
}

let ldconfigCache: Map<string, string> | undefined;
function ldconfigEntries(): Map<string, string> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = new Map();
  for (const file of ['/etc/ld.so.cache']) {
    // The cache is binary; library names and paths appear as NUL-terminated strings in it.
    try {
      const strings = readFileSync(file).toString('latin1').split('\0');
      for (const s of strings) if (s.startsWith('/') && s.includes('.so')) ldconfigCache.set(path.basename(s), s);
    } catch {
      // no cache: fall back to the directory scan below
    }
  }
  return ldconfigCache;
}

const LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/local/cuda/lib64',
  '/usr/lib/wsl/lib',
];

/** Where the dynamic loader would find a shared library by its soname (Linux), if anywhere. */
export function findSharedLibrary(soname: string): string | undefined {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...(onnxruntimeBinDir() ? [onnxruntimeBinDir() as string] : [])];
  for (const dir of dirs) if (existsSync(path.join(dir, soname))) return path.join(dir, soname);
  const cached = ldconfigEntries().get(soname);
  if (cached && existsSync(cached)) return cached;
  for (const dir of LIBRARY_DIRS) if (existsSync(path.join(dir, soname))) return path.join(dir, soname);
  return undefined;
}

/** Libraries the CUDA provider opens at run time besides its link-time dependencies. */
const CUDA_RUNTIME_LIBRARIES = ['libcudnn.so.9'];
const LIBRARY_ROLES: Record<string, string> = { 'libcuda.so.1': 'NVIDIA driver' };

function providerLibraryName(ep: 'cuda' | 'shared'): string {
  return process.platform === 'win32' ? `onnxruntime_providers_${ep}.dll` : `libonnxruntime_providers_${ep}.so`;
}

/**
 * Why the CUDA provider cannot load, in words ("libcudnn.so.9 not found"), or undefined when
 * nothing is visibly missing (onnxruntime's own error then says the rest).
 */
export async function diagnoseCuda(dir: string | undefined = onnxruntimeBinDir()): Promise<string | undefined> {
  if (!((process.platform === 'linux' || process.platform === 'win32') && process.arch === 'x64'))
    return `onnxruntime has no CUDA provider for ${process.platform}-${process.arch}`;
  if (!dir) return 'onnxruntime-node not found';
  const provider = path.join(dir, providerLibraryName('cuda'));
  const runtimeLib = process.platform === 'win32' ? 'onnxruntime.dll' : 'libonnxruntime.so.1';
  if (!existsSync(provider)) return `CUDA provider not installed (no ${providerLibraryName('cuda')} beside ${runtimeLib}; see docs/gpu.md)`;
  if (!existsSync(path.join(dir, providerLibraryName('shared')))) return `${providerLibraryName('shared')} missing beside ${runtimeLib} (see docs/gpu.md)`;
  if (process.platform !== 'linux') return undefined;
  const missing: string[] = [];
  const ldd = await tryExec('ldd', [provider], 10_000);
  if (ldd) for (const m of ldd.matchAll(/^\s*(\S+) => not found/gm)) missing.push(m[1]);
  for (const lib of CUDA_RUNTIME_LIBRARIES) if (!missing.includes(lib) && !findSharedLibrary(lib)) missing.push(lib);
  const parts = missing.map((lib) => (LIBRARY_ROLES[lib] ? `${lib} (${LIBRARY_ROLES[lib]})` : lib));
  if (parts.length > 0) return `${parts.join(', ')} not found`;
  if (gpuDeviceNodes().filter((n) => n.startsWith('/dev/nvidia')).length === 0 && !existsSync('/dev/nvidiactl'))
    return 'no NVIDIA GPU device (/dev/nvidia0 missing)';
  return undefined;
}
