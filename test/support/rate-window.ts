// How far a stream of arrivals ran ahead of a rate, over its worst window: the check of every accept-rate bound in
// the tests (receivers' budgets, handoffs, restart slots), in the agent's tests and the fleet model alike.

/**
 * max over i <= j of (arrivals i..j) - rate x (t_j - t_i) for sorted arrival times (ms): the burst some window of any
 * length saw beyond the rate. Arrivals stay within rate x T + b over every window T exactly when this is at most b.
 * O(n).
 */
export function worstExcess(sorted: readonly number[], ratePerSec: number): number {
  let best = -Infinity;
  let worst = -Infinity;
  for (let j = 0; j < sorted.length; j++) {
    best = Math.max(best, (ratePerSec * sorted[j]) / 1000 - j);
    worst = Math.max(worst, j + 1 - (ratePerSec * sorted[j]) / 1000 + best);
  }
  return worst;
}
