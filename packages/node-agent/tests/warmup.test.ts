// A node's warm-up: the accept rate it declares rises from a fifth to the whole over `warmupMs` of serving, and the
// senders re-rate their lanes to it as its heartbeats say so. Pure function by property; then real agents over one
// MemoryMembership and real clients over loopback, on one ManualClock: a joiner takes its users no faster than it
// declares while it warms up, and without the warm-up the same join runs ahead of that curve.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WARMUP_FLOOR, warmingRate } from '../src/warmup.js';
import type { AgentOptions } from '../src/mod.js';
import { driveUntil, pass } from '../../../test/support/drive.js';
import { LoopbackFleet } from './loopback-fleet.js';

describe('warmingRate', () => {
  it('rises from the floor to the whole rate, never above it, at least 1 user/s', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0.1, max: 1_000, noNaN: true })), fc.integer({ min: 1, max: 600_000 }), fc.nat(700_000), fc.nat(700_000), (rate, warmup, a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        expect(warmingRate(rate, early, warmup)).toBeLessThanOrEqual(warmingRate(rate, late, warmup));
        expect(warmingRate(rate, late, warmup)).toBeLessThanOrEqual(rate);
        expect(warmingRate(rate, early, warmup)).toBeGreaterThanOrEqual(Math.min(rate, Math.max(1, Math.round(rate * WARMUP_FLOOR))));
        expect(warmingRate(rate, warmup, warmup)).toBe(rate);
        expect(warmingRate(rate, undefined, warmup)).toBe(Math.min(rate, Math.max(1, Math.round(rate * WARMUP_FLOOR))));
        expect(warmingRate(rate, early, 0)).toBe(rate);
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});

const ACCEPT = 50;
const WARMUP = 4_000;
const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 1_000, settleMs: 200, host: '127.0.0.1', acceptRate: ACCEPT, delivery: false } satisfies Partial<AgentOptions>;
const USERS = 150;

let fleet: LoopbackFleet | undefined;
afterEach(() => fleet?.stop());

/** Users admitted by a joiner, as times since it began serving (ms), sorted. */
async function join(warmupMs: number): Promise<number[]> {
  fleet = new LoopbackFleet({ ...TIMING, warmupMs });
  // The fleet's first nodes finish warming up before the join: only the joiner is new.
  await fleet.up(['a0', 'a1'], USERS);
  await pass(fleet.clock, WARMUP + 500);
  fleet.resetCounts();
  const joiner = await fleet.start('a2');
  const servingSince = fleet.clock.now();
  fleet.agents.set('a2', joiner);
  await driveUntil(fleet.clock, () => fleet!.settled(), { what: 'every client on its owner', maxMs: 30_000 });
  return [...fleet.clients.values()].flatMap((t) => t.opens.filter((o) => o.node === 'a2').map((o) => o.at - servingSince)).sort((a, b) => a - b);
}

/** Users a node warming up from 0 declares it takes by `t` ms: the integral of its declared rate. */
function declaredBy(t: number): number {
  const s = Math.min(t, WARMUP) / 1000;
  const ramp = ACCEPT * (WARMUP_FLOOR * s + ((1 - WARMUP_FLOOR) * s * s * 1000) / (2 * WARMUP));
  return ramp + (ACCEPT * Math.max(0, t - WARMUP)) / 1000;
}

describe('a joiner warms up', () => {
  it('takes its users no faster than it declares while it warms up (each sender one lane burst ahead at most)', async () => {
    const opens = await join(WARMUP);
    expect(opens.length).toBeGreaterThan(30);
    // Two senders, each at most one lane burst (1 + share x 50 ms) and one heartbeat (100 ms) of the rate ahead.
    const slack = 2 * (1 + (ACCEPT * 0.05) / 2) + ACCEPT * 0.1;
    for (const [k, t] of opens.entries()) expect(k + 1, `user ${k + 1} at ${t} ms`).toBeLessThanOrEqual(declaredBy(t) + slack);
  });

  it('without the warm-up the same join runs ahead of that curve', async () => {
    const opens = await join(0);
    const slack = 2 * (1 + (ACCEPT * 0.05) / 2) + ACCEPT * 0.1;
    expect(opens.some((t, k) => k + 1 > declaredBy(t) + slack)).toBe(true);
  });
});
