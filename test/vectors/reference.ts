// A second implementation of placement, written from docs/placement.md alone and kept deliberately naive
// (linear scans, no lookup tables), so the vectors prove the document is enough to reproduce placement.
import type { RingSnapshot } from '@wsring/ring';

export interface ReferenceHash {
  /** XXH32 of bytes with a 32-bit seed, unsigned. */
  xxh32(bytes: Uint8Array, seed: number): number;
  /** XXH64 of bytes with seed 0, as 16 lowercase hex digits. */
  xxh64Hex(bytes: Uint8Array): string;
  /** UTF-8 (WHATWG encode: a lone surrogate becomes U+FFFD). */
  utf8(s: string): Uint8Array;
}

const SPACE = 2 ** 32;

interface Node {
  id: string;
  weight: number;
}

/** Nodes sorted by id, comparing UTF-16 code units. */
function sortedNodes(snapshot: RingSnapshot): Node[] {
  return snapshot.nodes.map(({ id, weight }) => ({ id, weight })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Ring: every point as [position, node index], sorted by position then index. */
function ringPoints(x: ReferenceHash, nodes: Node[], seed: number, pointsPerWeight: number): [number, number][] {
  const points: [number, number][] = [];
  nodes.forEach((node, i) => {
    const count = Math.max(1, Math.round(node.weight * pointsPerWeight));
    for (let j = 0; j < count; j++) points.push([x.xxh32(x.utf8(`${node.id}#${j}`), seed), i]);
  });
  return points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function maglevTableSize(snapshot: RingSnapshot, n: number): number {
  if (snapshot.tableSize !== undefined) return snapshot.tableSize;
  let m = Math.max(65537, 100 * n);
  while (!isPrime(m)) m++;
  return m;
}

function maglevTable(x: ReferenceHash, nodes: Node[], seed: number, m: number): number[] {
  const offset = nodes.map((node) => x.xxh32(x.utf8(node.id), seed) % m);
  const skip = nodes.map((node) => (x.xxh32(x.utf8(node.id), (seed ^ 0x5bd1e995) >>> 0) % (m - 1)) + 1);
  const maxWeight = Math.max(...nodes.map((node) => node.weight));
  const credit = nodes.map(() => 0);
  const next = [...offset];
  const table: number[] = new Array(m).fill(-1);
  let filled = 0;
  while (filled < m) {
    for (let i = 0; i < nodes.length && filled < m; i++) {
      credit[i] += nodes[i].weight / maxWeight;
      if (credit[i] < 1) continue;
      credit[i] -= 1;
      let c = next[i];
      while (table[c] !== -1) c = (c + skip[i]) % m;
      table[c] = i;
      next[i] = (c + skip[i]) % m;
      filled++;
    }
  }
  return table;
}

function rendezvousScores(x: ReferenceHash, nodes: Node[], seed: number, h: number): number[] {
  return nodes.map((node) => {
    const u = (fmix32((h ^ x.xxh32(x.utf8(node.id), seed)) >>> 0) + 0.5) / SPACE;
    return -node.weight / Math.log(u);
  });
}

export interface ReferencePlacement {
  owner(key: string): string;
  preference(key: string, n: number): string[];
}

/** Placement of one snapshot: the points or the table are built once, lookups scan them linearly. */
export function referencePlacement(x: ReferenceHash, snapshot: RingSnapshot): ReferencePlacement {
  const nodes = sortedNodes(snapshot);
  const seed = snapshot.seed;
  let walk: (h: number, visit: (i: number) => void) => void;
  switch (snapshot.algorithm) {
    case 'ring': {
      const points = ringPoints(x, nodes, seed, snapshot.pointsPerWeight ?? 160);
      walk = (h, visit) => {
        let first = points.findIndex(([position]) => position >= h);
        if (first < 0) first = 0;
        for (let k = 0; k < points.length; k++) visit(points[(first + k) % points.length][1]);
      };
      break;
    }
    case 'maglev': {
      const m = maglevTableSize(snapshot, nodes.length);
      const table = maglevTable(x, nodes, seed, m);
      walk = (h, visit) => {
        const slot = Math.floor((h * m) / SPACE);
        for (let k = 0; k < m; k++) visit(table[(slot + k) % m]);
      };
      break;
    }
    case 'rendezvous':
      walk = (h, visit) => {
        const scores = rendezvousScores(x, nodes, seed, h);
        nodes.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b).forEach(visit);
      };
      break;
  }
  const preference = (key: string, n: number): string[] => {
    const order: number[] = [];
    walk(x.xxh32(x.utf8(key), seed), (i) => {
      if (order.length < n && !order.includes(i)) order.push(i);
    });
    return order.map((i) => nodes[i].id);
  };
  return { preference, owner: (key) => preference(key, 1)[0] };
}

export function referenceFingerprint(x: ReferenceHash, snapshot: RingSnapshot): string {
  const nodes = sortedNodes(snapshot);
  const parts = [x.utf8(JSON.stringify([snapshot.algorithm, snapshot.seed, nodes.length]))];
  if (nodes.length > 0) {
    switch (snapshot.algorithm) {
      case 'ring': {
        const ppw = snapshot.pointsPerWeight ?? 160;
        parts.push(x.utf8(JSON.stringify(nodes.map((node) => [node.id, Math.max(1, Math.round(node.weight * ppw))]))));
        break;
      }
      case 'maglev': {
        const m = maglevTableSize(snapshot, nodes.length);
        const table = maglevTable(x, nodes, snapshot.seed, m);
        const firstSeen: number[] = [];
        const slots = new Uint8Array(4 * m);
        const view = new DataView(slots.buffer);
        table.forEach((i, s) => {
          if (!firstSeen.includes(i)) firstSeen.push(i);
          view.setUint32(4 * s, firstSeen.indexOf(i), true);
        });
        parts.push(x.utf8(JSON.stringify([m, firstSeen.map((i) => nodes[i].id)])), slots);
        break;
      }
      case 'rendezvous':
        parts.push(x.utf8(JSON.stringify(nodes.map((node) => [node.id, node.weight]))));
        break;
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return x.xxh64Hex(bytes);
}
