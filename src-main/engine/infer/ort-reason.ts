// onnxruntime's errors, shortened to the part a person can read in a record or a status line.

/** Only the first line: onnxruntime appends source locations and stack-like detail. */
export function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split('\n')[0]
    .replace(/^\/onnxruntime_src\/\S+\s*/, '') // source location
    .replace(/^[\w:~]+\([^)]*\)(?:::<lambda\(\)>)?\s+/, '') // C++ function signature
    .replace(/^.*? was false\. /, '') // the failed check's expression, before its message
    .slice(0, 300);
}
