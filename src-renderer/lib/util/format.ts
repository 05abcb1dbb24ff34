import type { BatchSummary } from '../../../src-main/api/contract.js';
import { PAPER_NAMES as STAGE_PAPER_NAMES } from '../../../src-main/api/vocabulary.js';
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

export const formatInt = (n: number): string => integer.format(n);

export function formatPercent(p: number): string {
  const v = p * 100;
  if (v >= 99.95) return '100%';
  if (v < 0.1) return v === 0 ? '0%' : '<0.1%';
  return `${v.toFixed(1)}%`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MB`;
  return `${oneDecimal.format(bytes / (1024 * 1024 * 1024))} GB`;
}

/** 25.6 M, 4.09 G … */
export function formatCount(n: number, unit = ''): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k${unit}`;
  return `${n}${unit ? ` ${unit}` : ''}`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A run's state (a batch, a lesion study) in the app's words. */
export const RUN_STATE_LABELS: Readonly<Record<BatchSummary['state'], string>> = {
  running: 'Running',
  paused: 'Paused',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/** stem → "conv1", layer1 → "conv2_x" (fallback when the engine did not say). */
/** Stage → the ResNet paper's name (looked up by any string: stage names arrive as data). */
export const PAPER_NAMES: Readonly<Record<string, string>> = STAGE_PAPER_NAMES;

export function jpegUrl(bytes: Uint8Array): string {
  return URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
}

/** "CPU · 2 threads — CUDA unavailable: …" → the provider in use, and why faster ones were skipped. */
export function epParts(label: string): { main: string; detail: string | null } {
  const at = label.indexOf(' — ');
  return at < 0 ? { main: label, detail: null } : { main: label.slice(0, at), detail: label.slice(at + 3) };
}
