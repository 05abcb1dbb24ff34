// One provider tried for a session: skipped when auto knows it cannot help, loaded, then (for a GPU)
// probed against the CPU; each outcome recorded with a reason a person can act on.
import * as ort from 'onnxruntime-node';
import { type Ep } from '../core/vocabulary.js';
import { diagnoseCuda, gpuDeviceNodes } from './hardware.js';
import { shortReason } from './ort-reason.js';
import { type ProbeResult, type ProbeSpec, round1, runProbe } from './probe.js';
import { isGpuEp } from './providers.js';
import { type CreatedSession, type ModelSource, baseOptions, createWith } from './session-create.js';

/**
 * ok: chosen. unavailable: not installed, not in this build, or no device for it (nothing the user
 * half set up). failed: present but would not load. rejected: loaded, then failed its probe (wrong
 * numbers, or under auto slower than the CPU).
 */
export type AttemptStatus = 'ok' | 'unavailable' | 'failed' | 'rejected';

export interface EpAttempt {
  ep: Ep;
  ok: boolean;
  status: AttemptStatus;
  /** Why it was not used, when ok is false. */
  reason?: string;
  /** The probe against the CPU, for GPU providers that loaded. */
  probe?: ProbeResult;
  /** Time spent on this attempt (load, and probe when one ran), ms. */
  ms: number;
}

export interface AttemptContext {
  modelPath: ModelSource;
  threads: number;
  auto: boolean;
  deviceCheck: boolean;
  probeSpec?: ProbeSpec;
  measureSpeed: boolean;
  /** The CPU session (made once: the probe's reference, and the CPU's own attempt). */
  getCpu: () => Promise<CreatedSession>;
}

/** Why auto passes over a provider without trying it, or undefined to try it. */
export function autoSkipReason(ep: Ep, platform: NodeJS.Platform = process.platform, deviceNodes: string[] = gpuDeviceNodes(platform)): string | undefined {
  if (ep === 'webgpu' && platform === 'linux' && deviceNodes.length === 0) {
    return 'no GPU device (/dev/dri/renderD*, /dev/nvidia*): WebGPU could only use a software Vulkan adapter such as Mesa lavapipe, far slower than the CPU (--ep webgpu forces it)';
  }
  return undefined;
}

/** Turns a load failure into a reason a person can act on, and whether anything was installed at all. */
async function explainLoadFailure(ep: Ep, error: unknown): Promise<{ reason: string; status: AttemptStatus }> {
  const raw = shortReason(error);
  if (/backend not found/.test(raw)) {
    const where = { dml: ' (DirectML is Windows-only)', coreml: ' (CoreML is macOS-only)', cuda: '', webgpu: '', cpu: '' }[ep];
    return { reason: `not part of onnxruntime-node ${ort.env.versions.common} for ${process.platform}-${process.arch}${where}`, status: 'unavailable' };
  }
  if (ep === 'cuda') {
    const diagnosis = await diagnoseCuda();
    if (diagnosis) return { reason: diagnosis, status: /not installed|no CUDA provider/.test(diagnosis) ? 'unavailable' : 'failed' };
  }
  if (ep === 'webgpu' && /No supported adapters|Failed to get a WebGPU adapter/i.test(raw)) {
    return {
      reason: `no WebGPU adapter (${process.platform === 'linux' ? 'install libvulkan1 and a Vulkan driver, e.g. mesa-vulkan-drivers' : 'no usable GPU driver'})`,
      status: 'unavailable',
    };
  }
  return { reason: raw, status: 'failed' };
}

/** One provider: load it, probe it when it is a GPU; the session comes back only when it is trusted. */
export async function attemptProvider(ep: Ep, ctx: AttemptContext): Promise<{ attempt: EpAttempt; created?: CreatedSession }> {
  const start = performance.now();
  const skip = ctx.auto && ctx.deviceCheck && ep !== 'cpu' ? autoSkipReason(ep) : undefined;
  if (skip) return { attempt: { ep, ok: false, status: 'unavailable', reason: skip, ms: 0 } };
  let created: CreatedSession;
  try {
    created = ep === 'cpu' ? await ctx.getCpu() : { session: await createWith(ctx.modelPath, baseOptions(ep, ctx.threads)), fromCache: false };
  } catch (error) {
    const { reason, status } = await explainLoadFailure(ep, error);
    return { attempt: { ep, ok: false, status, reason, ms: round1(performance.now() - start) } };
  }
  if (!isGpuEp(ep) || !ctx.probeSpec) return { attempt: { ep, ok: true, status: 'ok', ms: round1(performance.now() - start) }, created };
  let probe: ProbeResult;
  try {
    probe = await runProbe(ep, created.session, (await ctx.getCpu()).session, ctx.probeSpec, { measure: ctx.measureSpeed, enforce: ctx.auto });
  } catch (error) {
    await created.session.release().catch(() => undefined);
    throw error; // the CPU reference itself failed: the model is the problem, not the provider
  }
  if (!probe.passed) {
    await created.session.release().catch(() => undefined);
    return { attempt: { ep, ok: false, status: 'rejected', reason: probe.reason, probe, ms: round1(performance.now() - start) } };
  }
  return { attempt: { ep, ok: true, status: 'ok', probe, ms: round1(performance.now() - start) }, created };
}

/** The probe to run, from the session options' `probe` (default: the model's own input and output). */
export function probeSpecOf(probe: boolean | ProbeSpec | undefined): ProbeSpec | undefined {
  return probe === false ? undefined : probe === true || probe === undefined ? {} : probe;
}
