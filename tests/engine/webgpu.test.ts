// WebGPU without a GPU: onnxruntime-node's bundled WebGPU provider (Dawn) on Mesa's software Vulkan
// driver, lavapipe. Correctness only (lavapipe takes seconds per ResNet-50 image): batch 1, two
// images, compared with the CPU. Skips with the reason where Vulkan/lavapipe is genuinely missing
// (a developer machine without the packages); under CI=true it must run, so there it fails instead.
// .ci/run installs libvulkan1 and bookworm-backports' mesa-vulkan-drivers (Mesa 25).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { classifyFiles, isFailure, type ClassifySuccess } from '../../src-main/engine/infer/classify-files.js';
import { probeNetwork } from '../../src-main/engine/infer/doctor.js';
import { findSharedLibrary, gpuDeviceNodes } from '../../src-main/engine/infer/hardware.js';
import { PROBE_TOLERANCE } from '../../src-main/engine/infer/providers.js';
import { shortReason } from '../../src-main/engine/infer/ort-reason.js';
import { compareOutputs } from '../../src-main/engine/infer/probe.js';
import { createSession } from '../../src-main/engine/infer/session.js';
import type { FallbackEvent } from '../../src-main/engine/infer/session-runner.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { STAGE_NAMES } from '../../src-main/engine/core/vocabulary.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { relativeL2 } from '../helpers/compare.js';
import { hasTestdata, referenceImages } from '../helpers/testdata.js';
import { tinyClassifier } from '../helpers/tiny-models.js';

const INSTALL_HINT =
  'install libvulkan1 and Mesa >= 25 lavapipe (Debian bookworm: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1; .ci/run does this)';

async function webgpuAvailability(): Promise<{ ok: boolean; reason: string }> {
  if (!ort.listSupportedBackends().some((b) => b.name === 'webgpu'))
    return { ok: false, reason: `onnxruntime-node ${ort.env.versions.common} has no WebGPU backend for ${process.platform}-${process.arch}` };
  if (process.platform === 'linux' && !findSharedLibrary('libvulkan.so.1')) return { ok: false, reason: `libvulkan.so.1 not found: ${INSTALL_HINT}` };
  try {
    const session = await ort.InferenceSession.create(tinyClassifier(4), { executionProviders: ['webgpu'], logSeverityLevel: 4 });
    await session.release();
    return { ok: true, reason: '' };
  } catch (error) {
    return { ok: false, reason: `no usable WebGPU adapter (${shortReason(error)}): ${INSTALL_HINT}` };
  }
}

const availability = await webgpuAvailability();
const inCi = process.env.CI === 'true' || process.env.CI === '1';
if (!availability.ok && !inCi) console.warn(`WebGPU tests skipped: ${availability.reason}`);
/** Without a GPU device node, whatever adapter Dawn finds is a software one (lavapipe). */
const softwareOnly = gpuDeviceNodes().length === 0;

describe('WebGPU availability', () => {
  it.runIf(inCi)('is available in CI (CI=true): Vulkan and lavapipe must be installed', () => {
    expect(availability.ok, availability.reason).toBe(true);
  });
});

describe.skipIf(!availability.ok)(`WebGPU on ${softwareOnly ? 'a software Vulkan adapter (lavapipe)' : 'this machine'}`, () => {
  let folder: string;
  let images: string[];
  let labels: string[];
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-webgpu-'));
    labels = await loadLabels();
    if (hasTestdata) {
      images = referenceImages()
        .slice(0, 2)
        .map((i) => i.file);
    } else {
      images = [];
      for (const seed of [1, 2]) {
        const file = path.join(folder, `photo-${seed}.jpg`);
        await writeFile(file, await photoLike(640, 480, 'jpeg', seed));
        images.push(file);
      }
    }
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('matches the CPU on fixture ResNet-50: logits within 1e-3 relative, top-5 identical, ep says webgpu', { timeout: 600_000 }, async () => {
    const model = await ensureFixture({ depth: 50, bn: 'folded' });
    const options = { name: 'resnet50-fixture', modelPath: model, preprocessing: TORCHVISION_PREPROCESSING, labels, stages: false };
    const cpu = await Classifier.load({ ...options, ep: 'cpu' });
    const gpu = await Classifier.load({ ...options, ep: 'webgpu' });
    try {
      expect(gpu.ep).toBe('webgpu');
      // The load-time probe ran against the CPU and passed.
      const probe = gpu.epAttempts[0].probe;
      expect(probe?.passed).toBe(true);
      expect(probe?.maxRelDiff).toBeLessThanOrEqual(PROBE_TOLERANCE.webgpu);

      // Image 1: raw logits, batch 1.
      const input = (await preprocessFile(images[0], TORCHVISION_PREPROCESSING)).tensor;
      const expected = await cpu.run(input, 1);
      const start = performance.now();
      const actual = await gpu.run(input, 1);
      const webgpuMs = performance.now() - start;
      expect(actual.epByImage).toEqual(['webgpu']);
      const cmp = compareOutputs(actual.logits[0], expected.logits[0]);
      expect(cmp.finite).toBe(true);
      expect(cmp.maxRelDiff).toBeLessThanOrEqual(1e-3);
      expect(gpu.top(actual.logits[0], 5).map((t) => t.index)).toEqual(cpu.top(expected.logits[0], 5).map((t) => t.index));

      // Image 2: through the file pipeline, whose results name the provider that ran them.
      const collect = async (c: Classifier) => {
        const out: ClassifySuccess[] = [];
        for await (const r of classifyFiles(c, [{ path: images[1] }], { batchSize: 1, top: 5 })) {
          if (isFailure(r)) throw new Error(`${r.path}: ${r.error.message}`);
          out.push(r);
        }
        return out[0];
      };
      const [onCpu, onGpu] = [await collect(cpu), await collect(gpu)];
      expect(onGpu.ep).toBe('webgpu');
      expect(onCpu.ep).toBe('cpu');
      expect(onGpu.top.map((t) => t.index)).toEqual(onCpu.top.map((t) => t.index));
      for (const [i, t] of onGpu.top.entries()) expect(Math.abs(t.prob - onCpu.top[i].prob)).toBeLessThan(1e-3);
      console.info(
        `WebGPU vs CPU on fixture ResNet-50: max diff ${cmp.maxAbsDiff.toExponential(2)} abs, ${cmp.maxRelDiff.toExponential(2)} relative; ` +
          `WebGPU ${webgpuMs.toFixed(0)} ms/image warm, first run (probe, shader compilation) ${probe?.firstMs.toFixed(0)} ms; CPU probe ${probe?.cpuMs.toFixed(0)} ms`,
      );
    } finally {
      await gpu.dispose();
      await cpu.dispose();
    }
  });

  it('the feature graph (stage outputs, switched in-graph reductions) runs on WebGPU like on the CPU', { timeout: 600_000 }, async () => {
    const options = { name: 'resnet18-fixture', modelPath: await ensureFixture({ depth: 18, bn: 'folded' }), preprocessing: TORCHVISION_PREPROCESSING, labels };
    const cpu = await Classifier.load({ ...options, ep: 'cpu' });
    const gpu = await Classifier.load({ ...options, ep: 'webgpu' });
    try {
      expect(gpu.ep).toBe('webgpu');
      expect(gpu.stagesError).toBeUndefined();
      const input = (await preprocessFile(images[0], TORCHVISION_PREPROCESSING)).tensor;
      const [plainCpu, plainGpu] = [await cpu.run(input, 1), await gpu.run(input, 1)];
      expect(compareOutputs(plainGpu.logits[0], plainCpu.logits[0]).maxRelDiff).toBeLessThanOrEqual(1e-3);
      const [fastCpu, fastGpu] = [await cpu.run(input, 1, { summary: { heatmapMode: 'mean' } }), await gpu.run(input, 1, { summary: { heatmapMode: 'mean' } })];
      expect(fastGpu.epByImage).toEqual(['webgpu']);
      const a = fastCpu.summaries![0];
      const b = fastGpu.summaries![0];
      for (const stage of STAGE_NAMES) {
        expect(relativeL2(b.stages[stage].heatmap, a.stages[stage].heatmap), stage).toBeLessThan(1e-3);
        expect(relativeL2(b.stages[stage].channelMeans, a.stages[stage].channelMeans), stage).toBeLessThan(1e-3);
      }
      expect(b.camClasses.slice(0, 3)).toEqual(a.camClasses.slice(0, 3));
      expect(relativeL2(b.cams, a.cams)).toBeLessThan(1e-3);
    } finally {
      await gpu.dispose();
      await cpu.dispose();
    }
  });

  it.runIf(softwareOnly)('auto rejects the software adapter by the probe speed rule even when it passes the device check', { timeout: 300_000 }, async () => {
    const choice = await createSession(probeNetwork(), { ep: 'auto', order: ['webgpu', 'cpu'], deviceCheck: false });
    await choice.session.release();
    expect(choice.ep).toBe('cpu');
    const [webgpu] = choice.attempts;
    expect(webgpu).toMatchObject({ ep: 'webgpu', ok: false, status: 'rejected' });
    expect(webgpu.reason).toMatch(/slower than the CPU/);
    expect(webgpu.probe?.maxRelDiff).toBeLessThanOrEqual(PROBE_TOLERANCE.webgpu); // right numbers, just slow
    expect(webgpu.probe?.warmMs).toBeGreaterThan(webgpu.probe?.cpuMs ?? Infinity);
  });

  it('a WebGPU session lost mid-run degrades to the CPU without losing a result', { timeout: 300_000 }, async () => {
    const events: FallbackEvent[] = [];
    const classifier = await Classifier.load({
      name: 'tiny',
      modelPath: await writeTiny(folder),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels: ['a', 'b', 'c', 'd'],
      ep: 'webgpu',
      stages: false,
      onFallback: (e) => events.push(e),
    });
    try {
      expect(classifier.ep).toBe('webgpu');
      expect(classifier.defaultBatchSize).toBeGreaterThan(8);
      const first: ClassifySuccess[] = [];
      for await (const r of classifyFiles(classifier, [{ path: images[0] }], { batchSize: 1 })) first.push(r as ClassifySuccess);
      expect(first.map((r) => r.ep)).toEqual(['webgpu']);
      // Stand-in for a lost device: the GPU session goes away under the classifier.
      await (classifier as unknown as { runner: { session: ort.InferenceSession } }).runner.session.release();
      const rest: ClassifySuccess[] = [];
      for await (const r of classifyFiles(
        classifier,
        images.map((p) => ({ path: p })),
        { batchSize: 1 },
      ))
        rest.push(r as ClassifySuccess);
      expect(rest.map((r) => ('error' in r ? 'error' : r.ep))).toEqual(['cpu', 'cpu']);
      expect(rest[0].top).toEqual(first[0].top.map((t) => ({ ...t, prob: expect.closeTo(t.prob, 5) })));
      expect(classifier.ep).toBe('cpu');
      expect(events).toHaveLength(1);
      expect(events[0].message).toMatch(/^WebGPU failed mid-run \(.+\); the rest runs on the CPU$/);
    } finally {
      await classifier.dispose();
    }
  });
});

async function writeTiny(folder: string): Promise<string> {
  const file = path.join(folder, 'tiny.onnx');
  await writeFile(file, tinyClassifier(4));
  return file;
}
