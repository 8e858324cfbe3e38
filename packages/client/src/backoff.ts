// Exponential backoff with full jitter (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
// spreading retries uniformly over [0, ceiling) keeps a crowd of clients from retrying in lockstep.

import type { BackoffOptions } from './types.js';

/** Defaults of the `backoff` option: the first retry waits under 250 ms, doubling up to 30 s. wsring-sim uses them too. */
export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({ baseMs: 250, capMs: 30_000 });

/** The largest delay for retry number `attempt` (1-based): min(cap, base * 2^(attempt-1)). */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  // Clamp the exponent so 2^n stays finite for any attempt count.
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  return Math.min(capMs, baseMs * 2 ** exponent);
}

/** A delay drawn uniformly from [0, ceiling), rounded down to whole ms. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * backoffCeiling(attempt, baseMs, capMs));
}
