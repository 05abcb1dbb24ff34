// The real `reslens worker` and `reslens batch --queue` processes for the queue tests: started as a
// user starts them, watched through their stderr and the journal, stopped with real signals.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './testdata.js';

export interface Proc {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startReslens(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'reslens.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => stderr, stdout: () => stdout, exited };
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A worker, ready once it says it takes chunks. */
export async function startWorker(url: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const worker = startReslens(['worker', '--queue', url, '--stall-timeout', '3', '--jobs', '1', ...args], env);
  await waitFor('the worker to start', () => /taking chunks/.test(worker.stderr()) || worker.child.exitCode !== null, 180_000);
  if (worker.child.exitCode !== null) throw new Error(`worker exited at start: ${worker.stderr()}`);
  return worker;
}

/**
 * The exit of a process that must end by itself (a coordinator), or, after `timeoutMs`, a SIGKILL and
 * an error that carries its log and `context` (the workers' logs): a hang then says where it stopped
 * instead of only "test timed out".
 */
export async function exitWithin(
  proc: Proc,
  timeoutMs: number,
  context: () => string | Promise<string> = () => '',
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  const result = await Promise.race([proc.exited, late]);
  clearTimeout(timer);
  if (result !== 'late') return result;
  proc.child.kill('SIGKILL');
  await proc.exited;
  throw new Error(`still running after ${timeoutMs / 1000} s (SIGKILLed)\n--- its stderr ---\n${proc.stderr()}\n${await context()}`);
}

/** Each process's stderr and stdout under a heading, for a failure's message. */
export function processLogs(procs: Record<string, Proc>): string {
  return Object.entries(procs)
    .map(([name, p]) => `--- ${name} (pid ${p.child.pid}) stderr ---\n${p.stderr()}\n--- ${name} stdout ---\n${p.stdout()}`)
    .join('\n');
}

/** SIGTERM, then the clean exit it must lead to. */
export async function stopWorker(worker: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return worker.exited;
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 30_000);
  const result = await worker.exited;
  clearTimeout(timer);
  return result;
}

/** Path → latest result in a journal (a torn last line after a kill is skipped). */
export async function journalResults(
  file: string,
): Promise<Map<string, { worker?: string; top?: { index: number; prob: number }[]; error?: { code: string } }>> {
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  const results = new Map();
  for (const line of text.split('\n')) {
    try {
      const value = JSON.parse(line) as { path?: string; result?: unknown };
      if (value.path && value.result) results.set(value.path, value.result);
    } catch {
      // torn line
    }
  }
  return results;
}

/** How many result lines the journal holds per path (exactly once means 1 each within a session). */
export async function journalResultLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.includes('"result"'))
    .map((l) => (JSON.parse(l) as { path: string }).path);
}
