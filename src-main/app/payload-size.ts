// How big an IPC message is, measured before anything looks inside it. Electron has already
// deserialised the message (structured clone), so there is no byte count to read: this walks the
// value and adds up what its serialised form would take, stopping as soon as the limit is passed
// (a hostile 100 MB array costs one pass up to the limit, not a JSON.stringify of everything).
// Structured clone allows cycles and arbitrarily deep nesting; both count as "too big".

export const MAX_PAYLOAD_DEPTH = 32;

/**
 * Approximate serialised size of `value` in bytes (JSON-like; typed arrays by their byte length), or
 * `Infinity` once it exceeds `limit`, nests deeper than MAX_PAYLOAD_DEPTH, or contains a cycle.
 */
export function payloadSize(value: unknown, limit: number): number {
  let total = 0;
  const ancestors = new Set<object>();

  const visit = (v: unknown, depth: number): boolean => {
    if (total > limit) return false;
    switch (typeof v) {
      case 'string':
        total += Buffer.byteLength(v, 'utf8') + 2;
        return total <= limit;
      case 'number':
      case 'bigint':
        total += 8;
        return total <= limit;
      case 'boolean':
      case 'undefined':
        total += 5;
        return total <= limit;
      case 'object':
        break;
      default:
        // Functions and symbols cannot come through IPC; whatever this is, refuse it.
        return false;
    }
    if (v === null) {
      total += 4;
      return total <= limit;
    }
    if (depth > MAX_PAYLOAD_DEPTH || ancestors.has(v)) return false;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      total += v.byteLength + 2;
      return total <= limit;
    }
    ancestors.add(v);
    try {
      if (v instanceof Map) {
        for (const [key, item] of v) if (!visit(key, depth + 1) || !visit(item, depth + 1)) return false;
      } else if (v instanceof Set || Array.isArray(v)) {
        total += 2;
        for (const item of v) {
          total += 1;
          if (!visit(item, depth + 1)) return false;
        }
      } else {
        total += 2;
        // Own keys, including "__proto__" when a deserialiser made it an own property.
        for (const key of Reflect.ownKeys(v)) {
          if (typeof key !== 'string') return false;
          total += Buffer.byteLength(key, 'utf8') + 4;
          if (!visit((v as Record<string, unknown>)[key], depth + 1)) return false;
        }
      }
    } finally {
      ancestors.delete(v);
    }
    return total <= limit;
  };

  return visit(value, 0) ? total : Number.POSITIVE_INFINITY;
}
