import { RingError, type Ring } from '@wsring/ring';

/**
 * This sender's share of every receiver's budget for one change, in moved users per second.
 *
 * Every agent knows the whole ring diff, so without talking to each other the senders can split each
 * receiver's accept rate A(R) among themselves: sender S gets A(R) x |hash space S hands to R| / |hash space
 * handed to R|. The shares of all senders to R sum to exactly A(R), and, users being hashed uniformly, each
 * share is in proportion to the users it carries, so a change moving M users to R takes about M / A(R).
 * Rings without ranges (rendezvous) split A(R) equally among every other node of the old ring.
 */
export function receiverShares(prev: Ring, next: Ring, self: string, acceptRate: (nodeId: string) => number): Map<string, number> {
  const shares = new Map<string, number>();
  if (prev.nodes.length === 0 || next.nodes.length === 0) return shares;
  let moves;
  try {
    moves = prev.diff(next);
  } catch (err) {
    if (!(err instanceof RingError)) throw err;
    for (const n of next.nodes) {
      if (n.id === self) continue;
      const senders = prev.nodes.filter((p) => p.id !== n.id).length;
      shares.set(n.id, acceptRate(n.id) / Math.max(1, senders));
    }
    return shares;
  }
  const total = new Map<string, number>();
  const mine = new Map<string, number>();
  for (const m of moves) {
    const length = m.end - m.start;
    total.set(m.to, (total.get(m.to) ?? 0) + length);
    if (m.from === self) mine.set(m.to, (mine.get(m.to) ?? 0) + length);
  }
  for (const [to, length] of mine) shares.set(to, (acceptRate(to) * length) / (total.get(to) as number));
  return shares;
}

/**
 * The share for moves no diff accounts for (stand-ins returning to their owner, users queued under an earlier
 * ring): every other node of the ring may be sending to `to` as well, so this sender takes 1/(n-1) of its rate.
 */
export function fallbackShare(ring: Ring, to: string, acceptRate: number): number {
  return acceptRate / Math.max(1, ring.nodes.length - 1);
}
