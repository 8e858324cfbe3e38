// Shared generators and brute-force oracles for the @wsring/ring properties.
import fc from 'fast-check';
import { createRing, type Algorithm, type Move, type MovedKey, type NodeSpec, type Ring } from '@wsring/ring';

export const ALGORITHMS: readonly Algorithm[] = ['ring', 'maglev', 'rendezvous'];
/** Algorithms whose placement is a set of hash ranges, so `diff` applies. */
export const RANGED: readonly Algorithm[] = ['ring', 'maglev'];
export const SPACE = 2 ** 32;

/** Node ids: plain ASCII, any Unicode code point, and printable graphemes (emoji, combining marks). */
export const nodeId: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
);

/** Weights: the default, whole numbers, and fractions. Bounded so a 200-node topology builds quickly. */
export const weight: fc.Arbitrary<number | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 1, max: 6 }),
  fc.double({ min: 0.05, max: 6, noNaN: true, noDefaultInfinity: true }),
);

export const nodeSpec = (id: fc.Arbitrary<string> = nodeId): fc.Arbitrary<NodeSpec> =>
  fc.record({ id, weight }).map(({ id, weight }) => (weight === undefined ? { id } : { id, weight }));

/** `count` nodes with distinct ids. */
export const nodesOf = (count: number): fc.Arbitrary<NodeSpec[]> =>
  fc.uniqueArray(nodeSpec(), { selector: (n) => n.id, minLength: count, maxLength: count });

/** A topology of 1 to `max` nodes; the node count is drawn uniformly, not biased towards small fleets. */
export const topology = (max = 200, min = 1): fc.Arbitrary<NodeSpec[]> =>
  fc.integer({ min, max }).chain((n) => nodesOf(n));

export const seed: fc.Arbitrary<number> = fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff }));

/** Random keys mixed with a block of sequential user ids, so every hash range is likely to hold some keys. */
export const keySet = (sequential = 2000): fc.Arbitrary<string[]> =>
  fc
    .record({
      random: fc.array(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' })), { maxLength: 200 }),
      prefix: fc.string({ maxLength: 4 }),
    })
    .map(({ random, prefix }) => [...random, ...Array.from({ length: sequential }, (_, i) => `${prefix}user-${i}`)]);

/** A change to a topology: nodes added, removed, and re-weighted (the result keeps at least one node). */
export interface Change {
  add: NodeSpec[];
  remove: string[];
  reweight: NodeSpec[];
}

export const change = (nodes: readonly NodeSpec[]): fc.Arbitrary<Change> => {
  const taken = new Set(nodes.map((n) => n.id));
  const ids = nodes.map((n) => n.id);
  return fc
    .record({
      add: fc.uniqueArray(nodeSpec(nodeId.filter((id) => !taken.has(id))), { selector: (n) => n.id, maxLength: 3 }),
      remove: fc.subarray(ids, { maxLength: Math.min(3, ids.length) }),
      reweight: fc.subarray(ids, { maxLength: Math.min(3, ids.length) }).chain((chosen) =>
        fc.tuple(...chosen.map((id) => weight.map((w) => ({ id, weight: w ?? 1 })))),
      ),
    })
    .map(({ add, remove, reweight }) => ({ add, remove, reweight: reweight.filter((r) => !remove.includes(r.id)) }))
    .filter((c) => nodes.length - c.remove.length + c.add.length > 0);
};

export function applyChange(ring: Ring, c: Change): Ring {
  let next = ring;
  if (c.remove.length > 0) next = next.withoutNodes(c.remove);
  if (c.add.length + c.reweight.length > 0) next = next.withNodes([...c.add, ...c.reweight]);
  return next;
}

export async function ringOf(nodes: NodeSpec[], algorithm: Algorithm, ringSeed = 0): Promise<Ring> {
  return createRing(nodes, { algorithm, seed: ringSeed });
}

/** The definition of "moved": every key whose owner differs, checked one key at a time. */
export function bruteForceMoved(prev: Ring, next: Ring, keys: Iterable<string>): MovedKey[] {
  const out: MovedKey[] = [];
  for (const key of keys) {
    const from = prev.owner(key);
    const to = next.owner(key);
    if (from !== to) out.push({ key, from, to });
  }
  return out;
}

/** Moved keys in a canonical order, duplicates kept (a key reported twice is a bug). */
export function sortedMoves(moved: readonly MovedKey[]): string[] {
  return moved.map((m) => JSON.stringify([m.key, m.from, m.to])).sort();
}

/** The move covering `hash`, by binary search over sorted, non-overlapping moves; undefined if none. */
export function moveAt(moves: readonly Move[], hash: number): Move | undefined {
  let lo = 0;
  let hi = moves.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (moves[mid].end <= hash) lo = mid + 1;
    else hi = mid;
  }
  const m = moves[lo];
  return m && m.start <= hash ? m : undefined;
}

/** Exact share of the hash space each node owns, from the ranges that would move to a node outside the ring. */
export function spaceShares(ring: Ring, outsider: Ring): Map<string, number> {
  const shares = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
  for (const m of ring.diff(outsider)) shares.set(m.from, shares.get(m.from)! + (m.end - m.start) / SPACE);
  return shares;
}

/** Keys counted per owner. */
export function keyLoads(ring: Ring, keys: readonly string[]): Map<string, number> {
  const loads = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
  for (const k of keys) {
    const o = ring.owner(k);
    loads.set(o, loads.get(o)! + 1);
  }
  return loads;
}

/** A single-node ring whose only node is in no generated topology (ids from the generators are short). */
export async function outsiderRing(algorithm: Algorithm, ringSeed = 0): Promise<Ring> {
  return createRing([{ id: 'outsider-node-not-in-any-topology' }], { algorithm, seed: ringSeed });
}
