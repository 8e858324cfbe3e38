// Balance of a load vector against node weights, and the fewest moves any placement needs for a change.
import type { Balance, SimNode } from './types.js';

/**
 * Each node's load relative to its fair share users * w / sum(w). With no users every node is exactly fair.
 * `users` defaults to the sum of `loads`; give the whole population when some users are not on these nodes (still
 * reconnecting, or left on a node outside the fleet), so they count as missing from the fleet's balance.
 */
export function balanceOf(nodes: readonly SimNode[], loads: readonly number[], users = loads.reduce((a, b) => a + b, 0)): Balance {
  const totalWeight = nodes.reduce((a, n) => a + n.weight, 0);
  if (users === 0 || nodes.length === 0) return { maxOverMean: 1, minOverMean: 1, stddevPct: 0 };
  let max = -Infinity;
  let min = Infinity;
  let sum = 0;
  let sumSq = 0;
  nodes.forEach((n, i) => {
    const r = loads[i] / ((users * n.weight) / totalWeight);
    max = Math.max(max, r);
    min = Math.min(min, r);
    sum += r;
    sumSq += r * r;
  });
  const mean = sum / nodes.length;
  const variance = Math.max(0, sumSq / nodes.length - mean * mean);
  return { maxOverMean: max, minOverMean: min, stddevPct: 100 * Math.sqrt(variance) };
}

/**
 * Fewest users that must change node when the fleet goes from `before` to `after`, if placement follows weights:
 * users * sum over nodes of max(0, share_before - share_after) (a node that leaves has share_after 0).
 */
export function minimumMoves(users: number, before: readonly SimNode[], after: readonly SimNode[]): number {
  const share = (nodes: readonly SimNode[]) => {
    const total = nodes.reduce((a, n) => a + n.weight, 0);
    return new Map(nodes.map((n) => [n.id, n.weight / total]));
  };
  const a = share(before);
  const b = share(after);
  let lost = 0;
  for (const [id, s] of a) lost += Math.max(0, s - (b.get(id) ?? 0));
  return Math.round(users * lost);
}
