#!/usr/bin/env bash
# The GPU measurement in one run, for a machine with an NVIDIA GPU (issue 16, point 5):
#   1. machine facts (nvidia-smi, driver, CPU instruction sets),
#   2. the CUDA provider installed by docs/gpu.md's routes when it is missing (A: onnxruntime-node's
#      installer from nuget.org; B: the npm registry package), or a clear line saying what is missing,
#   3. `reslens doctor` (text and JSON), with --ep cuda as the selected backend,
#   4. the GPU benchmark: ResNet-50 and -152 at batch 1/8/32/64, images/s and latency, the CPU beside
#      it (tests/bench/gpu.ts; fp32 — an fp16 model is not produced by ResLens yet),
#   5. the fidelity check against the CPU (the provider probe in the bench and
#      tests/engine/providers.test.ts).
# Everything goes to bench-results/gpu-run-<UTC time>/ (log.txt plus each step's output); a step that
# fails is recorded and the next one still runs. Usage: scripts/gpu-check.sh [--no-install]
# Time: about 5 minutes on an H100-class machine once `npm ci` is done (bench at BENCH_MIN_SECONDS=1).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="bench-results/gpu-run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
say() { printf '%s\n' "$*" | tee -a "$LOG"; }
step() { # step NAME COMMAND...: runs it with output in $OUT/NAME.txt, records the exit status
  local name=$1; shift
  say "== $name: $*"
  local start=$SECONDS
  "$@" >"$OUT/$name.txt" 2>&1
  local rc=$?
  say "   exit $rc in $((SECONDS - start)) s (output: $OUT/$name.txt)"
  tail -n 15 "$OUT/$name.txt" | sed 's/^/   | /' | tee -a "$LOG" >/dev/null
  return $rc
}

say "ResLens GPU check · $(date -u +%FT%TZ) · $(uname -srm) · node $(node --version)"
step nvidia-smi nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || say "   no nvidia-smi: no NVIDIA driver here"
say "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) · $(nproc) cores · $(grep -m1 -o -w 'avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | paste -sd' ' || echo 'no VNNI')"

[ -d node_modules ] || step npm-ci npm ci --no-audit --no-fund

ORT_BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ ! -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ] && [ "${1:-}" != "--no-install" ]; then
  say "CUDA provider missing from $ORT_BIN: trying docs/gpu.md route A, then route B"
  if ! step install-route-a env ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js; then
    tmp=$(mktemp -d)
    if step install-route-b sh -c "cd '$tmp' && npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 && tar xzf com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz"; then
      cp "$tmp"/package/Plugins/Linux/x64/libonnxruntime_providers_{shared,cuda}.so "$ORT_BIN/" && say "   copied the CUDA provider (CUDA 13 build) into $ORT_BIN"
    fi
    rm -rf "$tmp"
  fi
fi
if [ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]; then
  step ldd-cuda-provider sh -c "ldd '$ORT_BIN/libonnxruntime_providers_cuda.so' | grep -i 'not found\|cuda\|cublas\|cudnn'" || true
else
  say "CUDA provider still missing: the numbers below are CPU (and WebGPU) only"
fi

step doctor node bin/reslens.js doctor
step doctor-json sh -c "node bin/reslens.js doctor --json --ep cuda > '$OUT/doctor.json'" || say "   doctor --ep cuda failed: CUDA is not usable here (see doctor.txt for why)"

step gpu-bench env BENCH_EPS="${BENCH_EPS:-cuda,webgpu,cpu}" BENCH_BATCHES="${BENCH_BATCHES:-1,8,32,64}" BENCH_MIN_SECONDS="${BENCH_MIN_SECONDS:-1}" npx tsx tests/bench/gpu.ts
[ -f bench-results/gpu-latest.json ] && cp bench-results/gpu-latest.json "$OUT/gpu-latest.json"

step fidelity-vs-cpu npx vitest run tests/engine/providers.test.ts tests/engine/providers-doctor.test.ts
say "done: $OUT"
