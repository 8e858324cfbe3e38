/**
 * A node's warm-up: what it declares it accepts while it is new. A process that has just begun serving is still
 * compiling its code and filling its caches; at full rate it stalls, the handshakes queue in its kernel, and it
 * then takes them all at once (measured: joiners of a scale-out admitted 2.2-2.7x their accept rate in one second,
 * their clients waited 2-3 s for the handshake). So for its first `warmupMs` of serving a node declares a rate
 * rising linearly from WARMUP_FLOOR of its accept rate to the whole, written with each heartbeat; senders pace at
 * shares of what it declares now, as always, and its admission gate admits at it. A change that moves M users to a
 * node warming up from s ms before the change takes about M / A + (1 - WARMUP_FLOOR) x (warmupMs - s)^2 / (2 warmupMs),
 * plus up to a heartbeat's lag, instead of M / A when it lasts past the warm-up (1.6 s more at the defaults).
 */
export const WARMUP_FLOOR = 0.2;

/** The part of its accept rate a node declares `servingForMs` after it began serving (undefined: not serving yet). */
export function warmingFraction(servingForMs: number | undefined, warmupMs: number): number {
  const age = Math.max(0, servingForMs ?? 0);
  if (warmupMs <= 0 || age >= warmupMs) return 1;
  return WARMUP_FLOOR + ((1 - WARMUP_FLOOR) * age) / warmupMs;
}

/** The rate a node declares `servingForMs` after it began serving (undefined: not serving yet). Whole users per second, at least 1, never above `acceptRate`. */
export function warmingRate(acceptRate: number, servingForMs: number | undefined, warmupMs: number): number {
  const fraction = warmingFraction(servingForMs, warmupMs);
  if (fraction === 1) return acceptRate;
  return Math.min(acceptRate, Math.max(1, Math.round(acceptRate * fraction)));
}
