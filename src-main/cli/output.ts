// Human-readable rendering of results for the terminal. JSON output lives with the commands.
import path from 'node:path';
import type { ClassifyResult } from '../engine/index.js';

const BAR_WIDTH = 20;

function bar(prob: number): string {
  const filled = Math.round(prob * BAR_WIDTH);
  return '█'.repeat(filled) + '·'.repeat(BAR_WIDTH - filled);
}

function percent(prob: number): string {
  return `${(prob * 100).toFixed(prob >= 0.1 ? 1 : 2)}%`.padStart(6);
}

export function formatResult(result: ClassifyResult): string {
  if ('error' in result) return `${result.path}\n   error ${result.error.code}: ${result.error.message}\n`;
  const width = Math.max(...result.top.map((t) => t.label.length), 10);
  const lines = result.top.map((t, i) => `   ${String(i + 1).padStart(2)}. ${t.label.padEnd(width)}  ${percent(t.prob)}  ${bar(t.prob)}  #${t.index}`);
  return `${result.path}  (${result.model} · ${result.ep} · ${result.ms.toFixed(0)} ms)\n${lines.join('\n')}\n`;
}

export function formatSummary(done: number, failed: number, seconds: number): string {
  const rate = seconds > 0 ? ` · ${((done + failed) / seconds).toFixed(1)} images/s` : '';
  return `${done} classified, ${failed} failed in ${seconds.toFixed(1)} s${rate}`;
}

export const displayName = (file: string): string => path.basename(file);
