// Where a node's users go while it is down: the stand-ins of a restart in place that did not go as planned. A client
// that finds its node down connects to the next node of its preference list, which takes it as a stand-in. That is
// the user's owner in the ring without the node, so the model takes what `plan` counts for a crash of the node, the
// ring diff to the ring without it, users counted per range: exact for `ring` (the next distinct node clockwise) and
// `rendezvous` (the next highest score); for `maglev` the rebuilt table's owner, which the client's next slot owner
// matches only mostly (as for a crash, see docs/simulator.md). Past the fleet's hold of the node they are also its
// users' owners once the ring drops it.
import type { Ring } from '@wsring/ring';
import { lowerBound } from './tracker.js';

export interface FailoverFlow {
  to: string;
  users: number;
}

/** How `node`'s users (of `hashes`, sorted) would spread over the other nodes of `ring` if it were down; largest first. */
export function failoverFlows(ring: Ring, node: string, hashes: Uint32Array): FailoverFlow[] {
  if (ring.nodes.length < 2) return [];
  const without = ring.withoutNodes([node]);
  const users = new Map<string, number>();
  const add = (to: string, n: number) => n > 0 && users.set(to, (users.get(to) ?? 0) + n);
  if (ring.algorithm === 'rendezvous') {
    // No hash ranges: look the node's users up again.
    for (const h of hashes) if (ring.ownerOfHash(h) === node) add(without.ownerOfHash(h), 1);
  } else {
    // Maglev's rebuilt table also trades a few slots between other nodes: only the node's own ranges are its users.
    for (const m of ring.diff(without)) if (m.from === node) add(m.to, lowerBound(hashes, m.end) - lowerBound(hashes, m.start));
  }
  return [...users].map(([to, n]) => ({ to, users: n })).sort((a, b) => b.users - a.users || (a.to < b.to ? -1 : 1));
}

/** `failoverFlows` worked out once, on first use: most restarts never need it. */
export function lazyFailover(ring: Ring, node: string, hashes: Uint32Array): () => FailoverFlow[] {
  let flows: FailoverFlow[] | undefined;
  return () => (flows ??= failoverFlows(ring, node, hashes));
}
