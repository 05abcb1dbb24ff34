// Linux: runs a model-loading `reslens` command in a child process whose glibc malloc asks for
// transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; glibc reads tunables only when a
// process starts, so the setting needs a new process).
//
// Why (one-photo `reslens classify`, reference ResNet-50, 2 shared cores, 5 runs each): the
// 102 MB of weights, the decoded photo and onnxruntime's buffers are all freshly allocated memory,
// and on these VMs every 4 KiB page fault is expensive (27% of session creation in `perf record`).
// With huge pages the process takes 17 000 minor faults instead of 55 000 and ~0.5 s less CPU
// (1.2–1.3 s instead of 1.8 s user+sys); the extra process costs ~40 ms.
//
// Only where the kernel gives huge pages on request (THP mode "madvise"; "always" needs no help,
// "never" cannot be helped) and only for commands that load a model without handling signals
// themselves: the parent forwards SIGINT/SIGTERM/SIGHUP, and a command that treats a second SIGINT
// as "abandon" (batch, worker, lesion, models pull) would get two from a terminal's Ctrl-C.
// RESLENS_HUGE_PAGES=0 turns it off; an existing glibc.malloc.hugetlb setting is respected.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TUNABLE = 'glibc.malloc.hugetlb=1';
const MARK = 'RESLENS_HUGE_PAGES_CHILD';
/** Commands that load a model and leave signals to the default (the process ends). */
const RELAUNCHED = new Set(['classify', 'features', 'explain', 'blocks', 'quantize', 'inspect']);
const HELP = new Set(['-h', '--help', '-V', '--version']);
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The command word: the first argument that is neither an option nor a global option's value. */
function commandOf(argv) {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--models-dir') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

function kernelGivesHugePagesOnRequest() {
  try {
    return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[madvise]');
  } catch {
    return false;
  }
}

/** Whether `reslens argv` should run in a child with huge pages. */
export function shouldRelaunch(argv, env = process.env, platform = process.platform) {
  if (platform !== 'linux' || env[MARK] === '1' || env.RESLENS_HUGE_PAGES === '0') return false;
  if ((env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb')) return false;
  if (argv.some((a) => HELP.has(a)) || !RELAUNCHED.has(commandOf(argv))) return false;
  return kernelGivesHugePagesOnRequest();
}

/**
 * In the child: ends when the parent is gone (killed with SIGKILL, it cannot forward anything), so
 * no orphan keeps classifying. The IPC channel is unreferenced: it never keeps the child alive.
 */
export function watchParent() {
  if (process.env[MARK] !== '1' || !process.channel) return;
  process.on('disconnect', () => process.exit(129));
  process.channel.unref();
}

/**
 * Runs `script argv` again in a child with huge pages and mirrors its end: the same exit code, or
 * the same signal. Resolves false (run in this process instead) when the child cannot start.
 */
export function relaunch(script, argv) {
  return new Promise((resolve) => {
    const tunables = [process.env.GLIBC_TUNABLES, TUNABLE].filter(Boolean).join(':');
    let child;
    try {
      child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
        stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, GLIBC_TUNABLES: tunables, [MARK]: '1' },
      });
    } catch {
      resolve(false);
      return;
    }
    const forward = (signal) => child.kill(signal);
    for (const signal of FORWARDED) process.on(signal, forward);
    const stop = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
    };
    child.once('error', () => {
      stop();
      resolve(false);
    });
    child.once('exit', (code, signal) => {
      stop();
      if (signal) process.kill(process.pid, signal);
      else process.exitCode = code ?? 1;
      resolve(true);
    });
  });
}
