import { RingError } from './errors.js';
import type { Algorithm, NodeSpec, RingNode, RingOptions } from './types.js';

export const ALGORITHMS: readonly Algorithm[] = ['ring', 'maglev', 'rendezvous'];
/** Node indices are packed into 20 bits next to 32-bit positions when sorting points. */
export const MAX_NODES = 1 << 20;
export const DEFAULT_POINTS_PER_WEIGHT = 160;
export const MAX_POINTS_PER_WEIGHT = 1 << 16;
/** The ring keeps at most this many points; weights past it are an error, not a silent cap. */
export const MAX_POINTS = 1 << 24;
/** Keeps slot * 2^32 and hash * tableSize below 2^53, so slot arithmetic is exact in doubles. */
export const MAX_TABLE_SIZE = 2_097_143;

export interface ResolvedOptions {
  algorithm: Algorithm;
  seed: number;
  pointsPerWeight: number;
  /** 0 means "derive from the node count". */
  tableSize: number;
}

/** What kind of value `value` is, for an error message: `null`, `an array`, `an object`, `a string`, ... */
export function describeKind(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

/** A value as it should appear in an error message; never throws (null-prototype objects, BigInt, symbols). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return String(value);
  } catch {
    return `an unprintable ${typeof value}`;
  }
}

export function normalizeNode(spec: unknown, where: string): RingNode {
  if (spec === null || typeof spec !== 'object') throw new RingError('INVALID_ID', `${where} is not an object`);
  const { id, weight, meta } = spec as NodeSpec;
  if (typeof id !== 'string') throw new RingError('INVALID_ID', `${where}.id must be a string`);
  if (id.length === 0) throw new RingError('EMPTY_ID', `${where}.id is empty`);
  const w = weight === undefined ? 1 : weight;
  if (typeof w !== 'number' || !Number.isFinite(w) || !(w > 0)) {
    throw new RingError('INVALID_WEIGHT', `${where} (${JSON.stringify(id)}) has weight ${describeValue(weight)}; it must be a finite number > 0`);
  }
  if (meta === undefined) return { id, weight: w };
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new RingError('INVALID_META', `${where}.meta must be an object of strings`);
  }
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw new RingError('INVALID_META', `${where}.meta.${k} must be a string`);
    copy[k] = v;
  }
  return { id, weight: w, meta: Object.freeze(copy) };
}

/** Validate, fill defaults, reject duplicates, and sort by id (placement never depends on input order). */
export function normalizeNodes(specs: unknown): RingNode[] {
  if (!Array.isArray(specs)) throw new RingError('INVALID_ID', `nodes must be an array, got ${describeKind(specs)}`);
  // Array.from visits holes in sparse arrays (map skips them), so a hole is reported, not sorted past.
  const nodes = Array.from(specs as unknown[], (s, i) => normalizeNode(s, `nodes[${i}]`));
  nodes.sort((a, b) => compareIds(a.id, b.id));
  for (let i = 1; i < nodes.length; i++) {
    if (nodes[i].id === nodes[i - 1].id) throw new RingError('DUPLICATE_ID', `node id ${JSON.stringify(nodes[i].id)} appears twice`);
  }
  if (nodes.length > MAX_NODES) throw new RingError('TOO_MANY_NODES', `${nodes.length} nodes; at most ${MAX_NODES}`);
  return nodes;
}

/** Ids compare by UTF-16 code units, the same in every JavaScript engine (not locale-dependent). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isUint32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function resolveOptions(options: RingOptions | undefined): ResolvedOptions {
  const o = (options ?? {}) as RingOptions;
  if (typeof o !== 'object') throw new RingError('INVALID_OPTION', 'options must be an object');
  const algorithm = o.algorithm ?? 'ring';
  if (!ALGORITHMS.includes(algorithm)) {
    throw new RingError('UNKNOWN_ALGORITHM', `${describeValue(algorithm)}; expected one of ${ALGORITHMS.join(', ')}`);
  }
  const seed = o.seed ?? 0;
  if (!isUint32(seed)) throw new RingError('INVALID_OPTION', `seed ${describeValue(seed)} must be an integer in [0, 2^32)`);
  const pointsPerWeight = o.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
  if (typeof pointsPerWeight !== 'number' || !Number.isFinite(pointsPerWeight) || pointsPerWeight <= 0 || pointsPerWeight > MAX_POINTS_PER_WEIGHT) {
    throw new RingError('INVALID_OPTION', `pointsPerWeight ${describeValue(pointsPerWeight)} must be a number in (0, ${MAX_POINTS_PER_WEIGHT}]`);
  }
  const tableSize = o.tableSize ?? 0;
  if (o.tableSize !== undefined && (!Number.isInteger(tableSize) || tableSize > MAX_TABLE_SIZE || !isPrime(tableSize))) {
    throw new RingError('INVALID_OPTION', `tableSize ${describeValue(o.tableSize)} must be a prime <= ${MAX_TABLE_SIZE}`);
  }
  return { algorithm, seed, pointsPerWeight, tableSize };
}
