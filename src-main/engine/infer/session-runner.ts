// Mid-run fallback: the chosen session wrapped in a runner that moves to the CPU if the GPU fails
// while the work runs.
import type * as ort from 'onnxruntime-node';
import { type Ep } from '../core/vocabulary.js';
import { shortReason } from './ort-reason.js';
import { EP_TITLES } from './providers.js';
import { type CpuCacheOptions, type ModelSource, createCpuSession } from './session-create.js';

export interface FallbackEvent {
  from: Ep;
  to: 'cpu';
  reason: string;
  /** For people: "cuda failed mid-run (…); the rest runs on the CPU". */
  message: string;
}

/** The parts of an onnxruntime session the runner uses (a fake in unit tests). */
export type RunnableSession = Pick<ort.InferenceSession, 'run' | 'release'>;

/**
 * Runs on the chosen session; if a GPU run fails (device lost, out of memory), retries the same
 * run on a CPU session and, when that succeeds, stays on the CPU for the rest of the work. When the
 * CPU fails as well, the input is at fault, not the GPU: the error is thrown and the GPU kept.
 */
export class SessionRunner {
  private session: RunnableSession;
  private current: Ep;
  private switching?: Promise<RunnableSession>;
  fallback?: FallbackEvent;

  constructor(
    session: RunnableSession,
    ep: Ep,
    private readonly createCpu: () => Promise<RunnableSession>,
    private readonly onFallback?: (event: FallbackEvent) => void,
  ) {
    this.session = session;
    this.current = ep;
  }

  get ep(): Ep {
    return this.current;
  }

  async run(feeds: ort.InferenceSession.FeedsType, fetches: ort.InferenceSession.FetchesType): Promise<{ outputs: ort.InferenceSession.ReturnType; ep: Ep }> {
    const session = this.session;
    const ep = this.current;
    try {
      return { outputs: await session.run(feeds, fetches), ep };
    } catch (error) {
      if (ep === 'cpu') throw error;
      // Another batch may already have switched while this one ran.
      const cpu = this.current === 'cpu' ? this.session : await (this.switching ??= this.createCpu());
      const outputs = await cpu.run(feeds, fetches); // throws if the CPU fails too: keep the GPU
      if (this.current !== 'cpu') {
        const reason = shortReason(error);
        this.session = cpu;
        this.current = 'cpu';
        this.fallback = { from: ep, to: 'cpu', reason, message: `${EP_TITLES[ep]} failed mid-run (${reason}); the rest runs on the CPU` };
        await session.release().catch(() => undefined);
        this.onFallback?.(this.fallback);
      }
      return { outputs, ep: 'cpu' };
    }
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.switching && this.current !== 'cpu') await (await this.switching.catch(() => undefined))?.release();
  }
}

/** A runner whose CPU fallback session is made from the same model, threads and cache. */
export function runnerFor(
  choice: { session: RunnableSession; ep: Ep; threads: number },
  source: ModelSource,
  options: CpuCacheOptions,
  onFallback?: (event: FallbackEvent) => void,
): SessionRunner {
  return new SessionRunner(choice.session, choice.ep, async () => (await createCpuSession(source, options, choice.threads)).session, onFallback);
}
