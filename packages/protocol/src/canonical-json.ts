// One byte sequence per JSON value, whoever serialized it and in whatever key order: what a topology signature
// covers. The rules are RFC 8785's (JCS) for the values JSON.parse yields: object keys sorted by UTF-16 code
// units, no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them.
import { ProtocolError } from './errors.js';

/** Deepest nesting canonicalized; a topology body is 4 levels deep, so anything near this is hostile. */
export const MAX_CANONICAL_DEPTH = 32;

/**
 * The canonical JSON text of `value`. Keys whose value is `undefined` are left out (as JSON.stringify does).
 * Throws ProtocolError `BAD_TOPOLOGY` for values JSON cannot carry (non-finite numbers, functions, bigints)
 * and for nesting deeper than MAX_CANONICAL_DEPTH.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_CANONICAL_DEPTH) throw new ProtocolError('BAD_TOPOLOGY', `nested deeper than ${MAX_CANONICAL_DEPTH} levels`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ProtocolError('BAD_TOPOLOGY', 'a number JSON cannot carry');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : write(item, depth + 1))).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${write(record[key], depth + 1)}`).join(',')}}`;
  }
  throw new ProtocolError('BAD_TOPOLOGY', `a ${typeof value} JSON cannot carry`);
}
