// Sessions per user: users of a browser app hold several sockets (tabs, devices), all on the user's node. The agents
// plan and pace by user; sockets are what a node holds and what its accept rate sees arrive. A distribution of
// sessions per user turns the plan's user counts into socket counts as well.
import { SimError } from './errors.js';

/** Sessions per user: a mean, or a distribution over 1, 2, 3, ... sessions with its mean and variance. */
export interface SessionsPerUser {
  /** As given: `1.6`, or `1:0.6,2:0.25,3:0.1,4:0.05`. */
  spec: string;
  mean: number;
  /** Variance of one user's session count (0 for a bare mean: taken as fixed). */
  variance: number;
}

/**
 * `1.6` (a mean, at least 1) or `k:weight,...` (k sessions with relative weight; weights need not sum to 1).
 * Throws SimError INVALID_OPTION otherwise.
 */
export function parseSessionsPerUser(spec: string): SessionsPerUser {
  const text = spec.trim();
  const bad = (why: string) => new SimError('INVALID_OPTION', `--sessions-per-user ${JSON.stringify(spec)}: ${why} (give a mean >= 1 such as 1.6, or a distribution such as 1:0.6,2:0.25,3:0.1,4:0.05)`);
  if (!text.includes(':')) {
    const mean = Number(text);
    if (text === '' || !Number.isFinite(mean) || mean < 1) throw bad('not a number >= 1');
    return { spec: text, mean, variance: 0 };
  }
  const parts = text.split(',').map((p) => p.split(':').map((x) => x.trim()));
  let total = 0;
  const pairs: [number, number][] = [];
  for (const part of parts) {
    const [k, w] = part.map(Number);
    if (part.length !== 2 || !Number.isInteger(k) || k < 1 || !Number.isFinite(w) || w < 0) throw bad(`${part.join(':')} is not sessions:weight with sessions an integer >= 1 and weight >= 0`);
    pairs.push([k, w]);
    total += w;
  }
  if (total <= 0) throw bad('the weights sum to 0');
  const mean = pairs.reduce((m, [k, w]) => m + (k * w) / total, 0);
  const variance = pairs.reduce((v, [k, w]) => v + ((k - mean) ** 2 * w) / total, 0);
  return { spec: text, mean, variance };
}

/** Sockets of `users` users, and the range 99% of draws fall in (sessions are drawn per user, independent of placement). */
export function socketsOf(users: number, s: SessionsPerUser): { expected: number; low: number; high: number } {
  const expected = users * s.mean;
  const spread = 2.576 * Math.sqrt(users * s.variance);
  return { expected: Math.round(expected), low: Math.max(users, Math.floor(expected - spread)), high: Math.ceil(expected + spread) };
}
