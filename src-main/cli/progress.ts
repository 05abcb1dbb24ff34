// Progress on stderr: a cli-progress bar (amount, percent, speed, ETA) on a terminal, an occasional
// plain line otherwise (logs, CI, pipes), so stdout stays clean for results.
import cliProgress from 'cli-progress';
import type { TransferProgress } from '../engine/index.js';

export type ProgressUnits = 'bytes' | 'items';

export interface ProgressState {
  done: number;
  /** Null when unknown. */
  total: number | null;
  /** Units per second; computed from the updates when not given. */
  rate?: number;
}

export interface ProgressOptions {
  units?: ProgressUnits;
  stream?: NodeJS.WriteStream;
  /** Draw a bar; default: whether the stream is a terminal. */
  tty?: boolean;
  /** Minimum time between plain lines (default 5 s); a line also comes at each 25% and at the end. */
  plainIntervalMs?: number;
  now?: () => number;
}

export interface ProgressReporter {
  update: (state: ProgressState) => void;
  /** Ends the bar (or prints the final plain line). Safe to call more than once. */
  stop: () => void;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatAmount(value: number, units: ProgressUnits): string {
  return units === 'bytes' ? formatBytes(value) : String(value);
}

function formatRate(rate: number, units: ProgressUnits): string {
  return units === 'bytes' ? `${formatBytes(rate)}/s` : `${rate.toFixed(rate >= 10 ? 0 : 1)}/s`;
}

/**
 * A journaled run's progress (batch, lesion study) as the bar shows it: the total only once the
 * walk has finished counting, or while it is ahead of what is done (else the bar would pass 100%).
 */
export function runProgressState(p: { done: number; total: number; totalFinal: boolean; imagesPerSecond: number }): ProgressState {
  return { done: p.done, total: p.totalFinal || p.total > p.done ? p.total : null, rate: p.imagesPerSecond };
}

/** A progress reporter for any counted work (bytes or items). */
export function createProgress(label: string, options: ProgressOptions = {}): ProgressReporter {
  const units = options.units ?? 'items';
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const now = options.now ?? (() => performance.now());
  const rate = rateMeter(now);
  const describe = (state: ProgressState): ProgressText => describeProgress(state, rate.of(state), units);
  const plain = plainLines(label, stream, options.plainIntervalMs ?? 5000, now, describe);
  const bar = terminalBar(label, stream);

  let stopped = false;
  let last: ProgressState | undefined;
  const update = (state: ProgressState): void => {
    if (stopped) return;
    rate.start(state.done);
    last = state;
    if (tty) bar.show(state, describe(state));
    else plain.write(state, false);
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (bar.started) bar.stop();
    else if (!tty && last) plain.write(last, true);
  };
  return { update, stop };
}

interface ProgressText {
  percent: string;
  amount: string;
  speed: string;
  eta: string;
}

/** The rate given with an update, or else the one measured since the first update. */
function rateMeter(now: () => number): { start: (done: number) => void; of: (state: ProgressState) => number } {
  const started = now();
  let firstDone: number | undefined;
  return {
    start: (done) => {
      firstDone ??= done;
    },
    of: (state) => {
      if (state.rate !== undefined) return state.rate;
      const seconds = (now() - started) / 1000;
      return seconds > 0 ? (state.done - (firstDone ?? 0)) / seconds : 0;
    },
  };
}

function describeProgress(state: ProgressState, rate: number, units: ProgressUnits): ProgressText {
  const percent = state.total ? Math.min(100, (100 * state.done) / state.total) : null;
  const eta = state.total && rate > 0 ? formatDuration((state.total - state.done) / rate) : '--';
  return {
    percent: percent === null ? '  ?%' : `${percent.toFixed(0).padStart(3)}%`,
    amount: `${formatAmount(state.done, units)}${state.total ? ` / ${formatAmount(state.total, units)}` : ''}`,
    speed: formatRate(rate, units),
    eta,
  };
}

/**
 * Plain progress lines for logs and pipes: one every `interval` ms and at each quarter; `force` (the
 * end) writes one unless the last line already showed the same amount.
 */
function plainLines(
  label: string,
  stream: NodeJS.WriteStream,
  interval: number,
  now: () => number,
  describe: (state: ProgressState) => ProgressText,
): { write: (state: ProgressState, force: boolean) => void } {
  let lastPlainAt = -Infinity;
  let lastPlainQuarter = -1;
  let lastPlainDone = -1;
  const write = (state: ProgressState, force: boolean): void => {
    const t = now();
    const quarter = state.total ? Math.floor((4 * state.done) / state.total) : -1;
    const due = t - lastPlainAt >= interval || (quarter > lastPlainQuarter && quarter >= 0);
    if (!force && !due) return;
    if (force && state.done === lastPlainDone) return;
    lastPlainAt = t;
    lastPlainQuarter = quarter;
    lastPlainDone = state.done;
    const d = describe(state);
    const finished = state.total !== null && state.done >= state.total;
    stream.write(`${label}: ${d.percent.trim()} ${d.amount} at ${d.speed}${finished ? '' : `, ETA ${d.eta}`}\n`);
  };
  return { write };
}

/** The cli-progress bar on a terminal, started by the first update. */
function terminalBar(
  label: string,
  stream: NodeJS.WriteStream,
): { readonly started: boolean; show: (state: ProgressState, d: ProgressText) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  const show = (state: ProgressState, d: ProgressText): void => {
    const payload = { label, amount: d.amount, speed: d.speed, remaining: d.eta, pct: d.percent };
    const total = state.total ?? 0;
    if (!bar) {
      bar = new cliProgress.SingleBar(
        {
          format: '{label} [{bar}] {pct} | {amount} | {speed} | ETA {remaining}',
          stream,
          hideCursor: true,
          barsize: 24,
          fps: 10,
          clearOnComplete: false,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, Math.min(state.done, total || state.done), payload);
    } else {
      if (total !== bar.getTotal()) bar.setTotal(total);
      bar.update(total ? Math.min(state.done, total) : 0, payload);
    }
  };
  return {
    get started() {
      return bar !== undefined;
    },
    show,
    stop: () => bar?.stop(),
  };
}

/** A byte-progress reporter shaped for ModelStore.pull / resolveModel's `onProgress`. */
export function createDownloadProgress(
  label: string,
  options: Omit<ProgressOptions, 'units'> = {},
): { update: (progress: TransferProgress) => void; stop: () => void } {
  const reporter = createProgress(label, { ...options, units: 'bytes' });
  return {
    update: (progress: TransferProgress) => reporter.update({ done: progress.received, total: progress.total, rate: progress.bytesPerSecond }),
    stop: reporter.stop,
  };
}
