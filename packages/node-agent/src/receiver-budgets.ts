import { RingError, type Ring } from '@wsring/ring';

/**
 * This sender's share of every receiver's budget for one change, in moved users per second.
 *
 * Every agent knows the whole ring diff, so without talking to each other the senders can split each
 * receiver's accept rate A(R) among themselves: sender S gets A(R) x |hash space S hands to R| / |hash space
 * handed to R|. The shares of all senders to R sum to exactly A(R), and, users being hashed uniformly, each
 * share is in proportion to the users it carries, so a change moving M users to R takes about M / A(R).
 * Nodes that send nothing to R get nothing of its budget (a drain has one sender: it gets every receiver's
 * whole rate). Rings without ranges (rendezvous): see `rendezvousFlows`.
 */
export function receiverShares(prev: Ring, next: Ring, self: string, acceptRate: (nodeId: string) => number): Map<string, number> {
  if (prev.nodes.length === 0 || next.nodes.length === 0) return new Map();
  let flows: { from: string; to: string; size: number }[];
  try {
    flows = prev.diff(next).map((m) => ({ from: m.from, to: m.to, size: m.end - m.start }));
  } catch (err) {
    if (!(err instanceof RingError)) throw err;
    flows = rendezvousFlows(prev, next);
  }
  return sharesOfFlows(flows, self, acceptRate);
}

/** `self`'s share of each receiver's rate, given who hands how much to whom (hash space, or a sampled count of it). */
export function sharesOfFlows(flows: readonly { from: string; to: string; size: number }[], self: string, acceptRate: (nodeId: string) => number): Map<string, number> {
  const shares = new Map<string, number>();
  const total = new Map<string, number>();
  const mine = new Map<string, number>();
  for (const f of flows) {
    total.set(f.to, (total.get(f.to) ?? 0) + f.size);
    if (f.from === self) mine.set(f.to, (mine.get(f.to) ?? 0) + f.size);
  }
  for (const [to, size] of mine) shares.set(to, (acceptRate(to) * size) / (total.get(to) as number));
  return shares;
}

/** Evenly spaced hashes every agent samples alike: 4,096 keeps the estimate within a few percent at a few ms per change. */
const FLOW_SAMPLES = 4_096;

/**
 * Who sends to whom under rendezvous placement, and roughly how much, the same on every agent. The senders are
 * exact: S hands keys to R only if S left or lost weight, or R joined or gained weight (scores of unchanged nodes
 * compare as before). The sizes are sampled over a fixed set of hashes, plus one for every sender, so a sender
 * the sample missed still gets a share; the shares to R still sum to A(R).
 */
export function rendezvousFlows(prev: Ring, next: Ring): { from: string; to: string; size: number }[] {
  const before = new Map(prev.nodes.map((n) => [n.id, n.weight]));
  const after = new Map(next.nodes.map((n) => [n.id, n.weight]));
  const size = new Map<string, number>();
  const pair = (from: string, to: string) => `${from}\u0000${to}`;
  for (const [from, w] of before) {
    const gives = !after.has(from) || (after.get(from) as number) < w;
    for (const [to, v] of after) {
      if (to === from) continue;
      if (gives || !before.has(to) || v > (before.get(to) as number)) size.set(pair(from, to), 1);
    }
  }
  if (size.size === 0) return [];
  for (let i = 0; i < FLOW_SAMPLES; i++) {
    const hash = Math.floor(((i + 0.5) * 2 ** 32) / FLOW_SAMPLES) >>> 0;
    const from = prev.ownerOfHash(hash);
    const to = next.ownerOfHash(hash);
    const key = pair(from, to);
    const seen = size.get(key);
    if (from !== to && seen !== undefined) size.set(key, seen + 1);
  }
  return [...size].map(([key, n]) => {
    const [from, to] = key.split('\u0000');
    return { from, to, size: n };
  });
}

/**
 * The share for moves no diff accounts for (stand-ins returning to their owner, users queued under an earlier
 * ring): every other node of the ring may be sending to `to` as well, so this sender takes 1/(n-1) of its rate.
 */
export function fallbackShare(ring: Ring, to: string, acceptRate: number): number {
  return acceptRate / Math.max(1, ring.nodes.length - 1);
}
