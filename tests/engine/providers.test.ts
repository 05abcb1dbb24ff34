// Execution providers: auto's order and device check, fallback with recorded reasons, forced
// providers that cannot load, the probe's comparison, and the mid-run move to the CPU. Real
// onnxruntime sessions on a tiny model where a session is needed; fakes for GPU failures that no
// CI machine can produce on demand.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { diagnoseCuda, findSharedLibrary, parseVulkanSummary } from '../../src-main/engine/infer/hardware.js';
import { DEFAULT_BATCH, PROBE_TOLERANCE, autoOrder, defaultBatchSize } from '../../src-main/engine/infer/providers.js';
import { type Ep } from '../../src-main/engine/core/vocabulary.js';
import { compareOutputs, probeInput } from '../../src-main/engine/infer/probe.js';
import { type EpAttempt, autoSkipReason } from '../../src-main/engine/infer/provider-attempt.js';
import { createSession, describeChoice } from '../../src-main/engine/infer/session.js';
import { type FallbackEvent, type RunnableSession, SessionRunner } from '../../src-main/engine/infer/session-runner.js';
import { tinyClassifier } from '../helpers/tiny-models.js';

/** A provider onnxruntime-node on this platform certainly cannot load (it throws "backend not found"). */
const FOREIGN_EP: Ep = process.platform === 'win32' ? 'coreml' : 'dml';

describe('auto order', () => {
  it('tries GPU providers first and the CPU last on every platform', () => {
    expect(autoOrder('linux')).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(autoOrder('win32')).toEqual(['dml', 'webgpu', 'cpu']);
    expect(autoOrder('darwin')).toEqual(['coreml', 'webgpu', 'cpu']);
    expect(autoOrder('freebsd')).toEqual(['cpu']);
  });

  it('passes over WebGPU on Linux when no GPU device node exists (software adapter only)', () => {
    expect(autoSkipReason('webgpu', 'linux', [])).toMatch(/no GPU device.*lavapipe/);
    expect(autoSkipReason('webgpu', 'linux', ['/dev/dri/renderD128'])).toBeUndefined();
    expect(autoSkipReason('webgpu', 'linux', ['/dev/nvidia0'])).toBeUndefined();
    expect(autoSkipReason('webgpu', 'darwin', [])).toBeUndefined();
    expect(autoSkipReason('cuda', 'linux', [])).toBeUndefined();
  });

  it('chooses batch sizes per provider: large on GPUs, small on the CPU', () => {
    expect(defaultBatchSize('cpu')).toBeLessThanOrEqual(8);
    expect(defaultBatchSize('cuda')).toBeGreaterThanOrEqual(32);
    for (const ep of ['webgpu', 'dml'] as const) expect(DEFAULT_BATCH[ep]).toBeGreaterThan(DEFAULT_BATCH.cpu);
  });
});

describe('provider fallback with real sessions', () => {
  const model = tinyClassifier(4);

  it('falls back to the next provider when one fails to load, recording why', async () => {
    const choice = await createSession(model, { ep: 'auto', order: [FOREIGN_EP, 'cpu'], threads: 1 });
    try {
      expect(choice.ep).toBe('cpu');
      expect(choice.attempts.map((a) => [a.ep, a.ok])).toEqual([
        [FOREIGN_EP, false],
        ['cpu', true],
      ]);
      expect(choice.attempts[0].status).toBe('unavailable');
      expect(choice.attempts[0].reason).toMatch(/not part of onnxruntime-node 1\.29\.\d+ for /);
    } finally {
      await choice.session.release();
    }
  });

  it('records why CUDA did not load under auto and goes on', async () => {
    const diagnosis = await diagnoseCuda();
    if (!diagnosis) return; // a working CUDA install: nothing fails here (tests/bench/gpu.ts covers it)
    const choice = await createSession(model, { ep: 'auto', order: ['cuda', 'cpu'], threads: 1 });
    try {
      expect(choice.ep).toBe('cpu');
      expect(choice.attempts[0]).toMatchObject({ ep: 'cuda', ok: false, reason: diagnosis });
      expect(['unavailable', 'failed']).toContain(choice.attempts[0].status);
    } finally {
      await choice.session.release();
    }
  });

  it('a forced provider that cannot load is EP_UNAVAILABLE with the reason', async () => {
    const error = await createSession(model, { ep: FOREIGN_EP, threads: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('EP_UNAVAILABLE');
    expect((error as EngineError).message).toMatch(new RegExp(`'${FOREIGN_EP}' is unavailable: not part of onnxruntime-node`));
  });

  it('a forced CUDA without its libraries says what is missing', async () => {
    const diagnosis = await diagnoseCuda();
    if (!diagnosis) return;
    await expect(createSession(model, { ep: 'cuda', threads: 1 })).rejects.toMatchObject({
      code: 'EP_UNAVAILABLE',
      message: expect.stringContaining(diagnosis),
    });
  });

  it('the CPU alone needs no probe', async () => {
    const choice = await createSession(model, { ep: 'cpu', threads: 1 });
    await choice.session.release();
    expect(choice.attempts).toEqual([expect.objectContaining({ ep: 'cpu', ok: true, status: 'ok' })]);
    expect(choice.attempts[0].probe).toBeUndefined();
  });
});

describe('CUDA diagnosis', () => {
  it.runIf(process.platform === 'linux' && process.arch === 'x64')('says whether the provider is installed, then which libraries are missing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-ort-bin-'));
    try {
      expect(await diagnoseCuda(dir)).toMatch(
        /^CUDA provider not installed \(no libonnxruntime_providers_cuda\.so beside libonnxruntime\.so\.1; see docs\/gpu\.md\)$/,
      );
      await writeFile(path.join(dir, 'libonnxruntime_providers_cuda.so'), '');
      expect(await diagnoseCuda(dir)).toMatch(/^libonnxruntime_providers_shared\.so missing beside/);
      await writeFile(path.join(dir, 'libonnxruntime_providers_shared.so'), '');
      // cuDNN is opened at run time, so it is looked for by name like the loader would.
      if (!findSharedLibrary('libcudnn.so.9')) expect(await diagnoseCuda(dir)).toMatch(/libcudnn\.so\.9 not found$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('probe comparison', () => {
  it('measures differences relative to the largest CPU magnitude', () => {
    const cpu = Float32Array.from([10, -20, 5, 1, 0, 3]);
    expect(compareOutputs(cpu, cpu)).toEqual({ maxAbsDiff: 0, maxRelDiff: 0, finite: true, top5Equal: true });
    const off = Float32Array.from(cpu, (v, i) => (i === 2 ? v + 0.02 : v));
    const cmp = compareOutputs(off, cpu);
    expect(cmp.maxAbsDiff).toBeCloseTo(0.02, 5);
    expect(cmp.maxRelDiff).toBeCloseTo(0.001, 6);
    expect(cmp.top5Equal).toBe(true);
  });

  it('fails non-finite output and notices a reordered top 5', () => {
    const cpu = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(compareOutputs(Float32Array.from([1, 2, NaN, 4, 5, 6]), cpu)).toMatchObject({ finite: false, maxRelDiff: Infinity });
    expect(compareOutputs(Float32Array.from([1, 2, 3, 4, 6, 5]), cpu).top5Equal).toBe(false);
  });

  it('uses a deterministic, image-like input', () => {
    const a = probeInput([1, 3, 8, 8]);
    expect(a).toEqual(probeInput([1, 3, 8, 8]));
    expect(Math.max(...a)).toBeLessThan(3);
    expect(Math.min(...a)).toBeGreaterThan(-3);
  });

  it('holds fp32 GPU providers to 1e-3 and reduced-precision ones to looser bounds', () => {
    expect(PROBE_TOLERANCE.webgpu).toBe(1e-3);
    expect(PROBE_TOLERANCE.cuda).toBeGreaterThan(PROBE_TOLERANCE.webgpu);
    expect(PROBE_TOLERANCE.coreml).toBeGreaterThanOrEqual(PROBE_TOLERANCE.cuda);
  });
});

describe('backend description', () => {
  const attempt = (ep: Ep, status: EpAttempt['status'], reason?: string): EpAttempt => ({ ep, ok: status === 'ok', status, reason, ms: 1 });

  it('names the device, and why a GPU that was set up is not used', () => {
    expect(describeChoice({ ep: 'cuda', threads: 16, attempts: [attempt('cuda', 'ok')] }, 'NVIDIA H100 80GB HBM3')).toBe('GPU · CUDA · NVIDIA H100 80GB HBM3');
    expect(describeChoice({ ep: 'cpu', threads: 16, attempts: [attempt('cuda', 'failed', 'libcudnn.so.9 not found'), attempt('cpu', 'ok')] })).toBe(
      'CPU · 16 threads — CUDA unavailable: libcudnn.so.9 not found',
    );
    // Absent providers (not installed, no device) are not worth a warning on every run.
    expect(
      describeChoice({
        ep: 'cpu',
        threads: 2,
        attempts: [attempt('cuda', 'unavailable', 'not installed'), attempt('webgpu', 'unavailable', 'no GPU device'), attempt('cpu', 'ok')],
      }),
    ).toBe('CPU · 2 threads');
    expect(describeChoice({ ep: 'cpu', threads: 4, attempts: [attempt('webgpu', 'rejected', 'slower than the CPU'), attempt('cpu', 'ok')] })).toBe(
      'CPU · 4 threads — WebGPU rejected: slower than the CPU',
    );
  });

  it('reads adapters from vulkaninfo --summary', () => {
    const text = [
      'Devices:',
      '========',
      'GPU0:',
      '\tapiVersion         = 1.4.305',
      '\tvendorID           = 0x10005',
      '\tdeviceType         = PHYSICAL_DEVICE_TYPE_CPU',
      '\tdeviceName         = llvmpipe (LLVM 19.1.7, 256 bits)',
      '\tdriverName         = llvmpipe',
      '\tdriverInfo         = Mesa 25.0.7-2~bpo12+1 (LLVM 19.1.7)',
      'GPU1:',
      '\tvendorID           = 0x10de',
      '\tdeviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU',
      '\tdeviceName         = NVIDIA H100 80GB HBM3',
      '\tdriverName         = NVIDIA',
    ].join('\n');
    expect(parseVulkanSummary(text)).toEqual([
      { name: 'llvmpipe (LLVM 19.1.7, 256 bits)', vendor: 'Mesa', source: 'vulkaninfo', type: 'cpu', driver: 'Mesa 25.0.7-2~bpo12+1 (LLVM 19.1.7)' },
      { name: 'NVIDIA H100 80GB HBM3', vendor: 'NVIDIA', source: 'vulkaninfo', type: 'discrete', driver: 'NVIDIA' },
    ]);
  });
});

describe('mid-run fallback to the CPU', () => {
  const feeds = { input: new ort.Tensor('float32', new Float32Array(4), [1, 4]) };
  const output = (value: number) => ({ y: new ort.Tensor('float32', Float32Array.of(value), [1, 1]) });

  /** A session whose run answers from a script: a value, or an error to throw. */
  function fakeSession(script: (number | Error)[], log: string[], name: string): RunnableSession {
    return {
      run: async () => {
        const next = script.shift();
        log.push(`${name}.run`);
        if (next instanceof Error || next === undefined) throw next ?? new Error(`${name}: script exhausted`);
        return output(next);
      },
      release: async () => {
        log.push(`${name}.release`);
      },
    } as unknown as RunnableSession;
  }

  it('retries the failed batch on the CPU and stays there, saying so', async () => {
    const log: string[] = [];
    const events: FallbackEvent[] = [];
    const gpu = fakeSession([1, new Error('WebGPU device lost: the GPU stopped responding\nat dawn::…')], log, 'gpu');
    const runner = new SessionRunner(
      gpu,
      'webgpu',
      async () => fakeSession([2, 3], log, 'cpu'),
      (e) => events.push(e),
    );
    expect((await runner.run(feeds, ['y'])).ep).toBe('webgpu');
    const second = await runner.run(feeds, ['y']);
    expect(second.ep).toBe('cpu');
    expect(second.outputs.y.data).toEqual(Float32Array.of(2)); // the failed batch, recomputed: nothing lost
    expect((await runner.run(feeds, ['y'])).ep).toBe('cpu');
    expect(runner.ep).toBe('cpu');
    expect(log).toEqual(['gpu.run', 'gpu.run', 'cpu.run', 'gpu.release', 'cpu.run']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ from: 'webgpu', to: 'cpu', reason: 'WebGPU device lost: the GPU stopped responding' });
    expect(events[0].message).toMatch(/^WebGPU failed mid-run \(.*\); the rest runs on the CPU$/);
    expect(runner.fallback).toEqual(events[0]);
  });

  it('keeps the GPU when the CPU fails on the same input (the input is at fault)', async () => {
    const log: string[] = [];
    const gpu = fakeSession([new Error('bad input shape'), 5], log, 'gpu');
    const runner = new SessionRunner(gpu, 'cuda', async () => fakeSession([new Error('bad input shape')], log, 'cpu'));
    await expect(runner.run(feeds, ['y'])).rejects.toThrow('bad input shape');
    expect(runner.ep).toBe('cuda');
    expect(runner.fallback).toBeUndefined();
    expect((await runner.run(feeds, ['y'])).ep).toBe('cuda');
    await runner.release();
    expect(log).toEqual(['gpu.run', 'cpu.run', 'gpu.run', 'gpu.release', 'cpu.release']);
  });

  it('never retries a CPU failure', async () => {
    const log: string[] = [];
    let made = 0;
    const runner = new SessionRunner(fakeSession([new Error('out of memory')], log, 'cpu'), 'cpu', async () => {
      made++;
      return fakeSession([], log, 'other');
    });
    await expect(runner.run(feeds, ['y'])).rejects.toThrow('out of memory');
    expect(made).toBe(0);
  });
});
