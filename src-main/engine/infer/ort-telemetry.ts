// onnxruntime 1.29 added telemetry on Linux and macOS (microsoft/onnxruntime#27379): every process
// that creates a session starts a 1DS uploader, writes events and a device id into an SQLite cache
// under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, and sends them when it can reach Microsoft.
// ResLens turns it off, before the first session (the decision is latched then):
// - privacy: people open their photo libraries in ResLens, which promises no network use but the
//   model download they ask for;
// - start-up: a one-photo `reslens classify` paid for the telemetry system's start and its database
//   writes (with vs without, 4 alternating runs of session create + 2 runs, load ~11: 2.04 s vs
//   1.86 s mean wall time).
// Someone who wants to send onnxruntime's telemetry sets ORT_DISABLE_TELEMETRY=0 themselves.

/** onnxruntime's switch: "1" before initialisation means no uploader, events, device id or offline cache. */
export const ORT_TELEMETRY_SWITCH = 'ORT_DISABLE_TELEMETRY';

/** Turns onnxruntime's telemetry off for this process and its children, unless the user chose otherwise. */
export function disableOrtTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env[ORT_TELEMETRY_SWITCH] ??= '1';
}

// On import: every module that creates sessions imports this first.
disableOrtTelemetry();
