// The ring as the page draws it: arcs of the 32-bit hash circle, each belonging to a node. For `ring` and `maglev`
// the arcs are the placement's own ownership ranges (a one-node ring diffed against the real one yields every
// range with its owner); past MAX_EXACT ranges they are binned to BINS arcs of the circle, each bin drawn in the
// colour of the node owning most of it, and a node too small to win any bin still gets its largest range drawn.
// Rendezvous has no ranges: the picture is each node's share of the keys (by weight) as one arc, and says so.
import { createRing, type Ring } from '@wsring/ring';

/** Units of the circle in the arcs below: 2^20 (a 32-bit hash >> 12). */
export const CIRCLE = 1 << 20;
const SHIFT = 12;
const MAX_EXACT = 6_000;
const BINS = 8_192;
const SPACE = 2 ** 32;

export interface RingGeometry {
  fingerprint: string;
  algorithm: Ring['algorithm'];
  /** Ring node ids; arcs name them by index. */
  nodes: string[];
  /** Each node's share of the hash space, in the order of `nodes`. */
  shares: number[];
  /** Flat [start, end, node index, ...] in units of CIRCLE (end may equal CIRCLE). */
  arcs: number[];
  /** How the picture relates to placement, for the page to print. */
  note: string;
  /** Ranges of the placement itself (before binning). */
  ranges: number;
}

/** A node id no agent can have (ids are [A-Za-z0-9_-]): the owner of everything in the reference ring. */
const NOBODY = ' ';

export async function ringGeometry(ring: Ring): Promise<RingGeometry> {
  const nodes = ring.nodes.map((n) => n.id);
  const base = { fingerprint: ring.fingerprint, algorithm: ring.algorithm, nodes };
  if (nodes.length === 0) return { ...base, shares: [], arcs: [], note: 'no node in the ring', ranges: 0 };
  if (ring.algorithm === 'rendezvous') {
    const total = ring.nodes.reduce((s, n) => s + n.weight, 0);
    const arcs: number[] = [];
    let at = 0;
    const shares = ring.nodes.map((n, i) => {
      const share = n.weight / total;
      const end = i === nodes.length - 1 ? CIRCLE : Math.round(at + share * CIRCLE);
      arcs.push(Math.round(at), end, i);
      at = end;
      return share;
    });
    return { ...base, shares, arcs, ranges: 0, note: 'rendezvous places each key by score, with no ranges of the hash circle: each arc is a node\'s share of the keys (its weight), not a position' };
  }
  const reference = await createRing([{ id: NOBODY }], { algorithm: ring.algorithm, seed: ring.seed });
  const moves = reference.diff(ring);
  const index = new Map(nodes.map((id, i) => [id, i] as const));
  const covered = new Float64Array(nodes.length);
  const largest = new Array<[number, number]>(nodes.length);
  for (const m of moves) {
    const i = index.get(m.to)!;
    covered[i] += m.end - m.start;
    if (!largest[i] || m.end - m.start > largest[i][1] - largest[i][0]) largest[i] = [m.start, m.end];
  }
  const shares = [...covered].map((c) => c / SPACE);
  const kind = ring.algorithm === 'maglev' ? 'slot-table ranges' : 'ranges between virtual nodes';
  if (moves.length <= MAX_EXACT) {
    const arcs: number[] = [];
    for (const m of moves) arcs.push(m.start >>> SHIFT, m.end === SPACE ? CIRCLE : Math.ceil(m.end / 2 ** SHIFT), index.get(m.to)!);
    return { ...base, shares, arcs, ranges: moves.length, note: `every arc is one of the placement's ${moves.length} ${kind}` };
  }
  // Bin: each bin goes to the owner of its largest piece.
  const width = SPACE / BINS;
  const owner = new Int32Array(BINS).fill(-1);
  const best = new Float64Array(BINS);
  for (const m of moves) {
    const i = index.get(m.to)!;
    for (let b = Math.floor(m.start / width); b < BINS && b * width < m.end; b++) {
      const piece = Math.min(m.end, (b + 1) * width) - Math.max(m.start, b * width);
      if (piece > best[b]) {
        best[b] = piece;
        owner[b] = i;
      }
    }
  }
  const arcs: number[] = [];
  const unit = CIRCLE / BINS;
  const seen = new Uint8Array(nodes.length);
  for (let b = 0; b < BINS; ) {
    let e = b + 1;
    while (e < BINS && owner[e] === owner[b]) e++;
    arcs.push(b * unit, e * unit, owner[b]);
    seen[owner[b]] = 1;
    b = e;
  }
  let small = 0;
  for (let i = 0; i < nodes.length; i++) {
    if (seen[i] || !largest[i]) continue;
    small++;
    arcs.push(largest[i][0] >>> SHIFT, Math.max((largest[i][0] >>> SHIFT) + 1, Math.ceil(largest[i][1] / 2 ** SHIFT)), i);
  }
  return {
    ...base,
    shares,
    arcs,
    ranges: moves.length,
    note: `${moves.length} ${kind}, drawn as ${BINS} bins in the colour of the node owning most of each${small ? `; ${small} nodes too small to win a bin are drawn at their largest range` : ''}`,
  };
}
