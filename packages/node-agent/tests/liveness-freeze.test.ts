import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MemberRecord } from '../src/mod.js';
import { MemberTable } from '../src/internal.js';

const HEARTBEAT = 1_000;
const TIMEOUT = 4_000;
const PROBE_GAP = HEARTBEAT * 2.5;
const SELF = 'self';
const OTHERS = ['a', 'b', 'c'];

const rec = (id: string, seq: number): MemberRecord => ({ id, url: `ws://${id}`, weight: 1, state: 'active', startedAt: 1, seq });

/**
 * A store that stalls (delivers nothing: slow, electing, unreachable without a disconnect) for random spans,
 * while every member keeps heartbeating. Time advances in 100 ms ticks; the table is asked to expire on
 * every tick, as the tracker does.
 */
const stalls = fc.array(fc.record({ at: fc.integer({ min: 0, max: 60_000 }), lengthMs: fc.integer({ min: 100, max: 30_000 }) }), { maxLength: 5 });

function run(stallSpans: { at: number; lengthMs: number }[], dead: { id: string; at: number } | undefined, endMs = 70_000) {
  const table = new MemberTable(TIMEOUT, SELF, PROBE_GAP);
  const stalled = (t: number) => stallSpans.some((s) => t >= s.at && t < s.at + s.lengthMs);
  const expired: { id: string; at: number }[] = [];
  const lastHeard = new Map<string, number>();
  let seq = 0;
  for (const id of [SELF, ...OTHERS]) table.heartbeat(rec(id, 0), 0);
  for (let t = 0; t <= endMs; t += 100) {
    if (t % HEARTBEAT === 0 && !stalled(t)) {
      seq++;
      for (const id of [SELF, ...OTHERS]) {
        if (dead && id === dead.id && t >= dead.at) continue;
        table.heartbeat(rec(id, seq), t);
        lastHeard.set(id, t);
      }
    }
    for (const id of table.expire(t)) expired.push({ id, at: t });
  }
  return { table, expired, stalled, lastHeard };
}

describe('liveness while the store stalls', () => {
  it('a store that delivers nothing for any span, however long, expires nobody: silence of the store is not death', () => {
    fc.assert(
      fc.property(stalls, (spans) => {
        const { expired } = run(spans, undefined);
        expect(expired).toEqual([]);
      }),
      { seed: 8_101, numRuns: 300 },
    );
  });

  it('a member that really stops is expired exactly once, a full liveness period after the store last proved healthy, and nobody else is', () => {
    fc.assert(
      fc.property(stalls, fc.constantFrom(...OTHERS), fc.integer({ min: 1, max: 50 }), (spans, id, atSec) => {
        const dead = { id, at: atSec * 1_000 };
        const { expired, lastHeard } = run(spans, dead, 120_000);
        expect(expired.map((e) => e.id)).toEqual([id]);
        const at = expired[0].at;
        // Expired only while the store delivers (its own heartbeat came back within the probe gap), and only after
        // a full liveness period of silence.
        expect(at - (lastHeard.get(SELF) ?? 0)).toBeLessThanOrEqual(PROBE_GAP);
        expect(at - (lastHeard.get(id) ?? 0)).toBeGreaterThan(TIMEOUT);
        // Not before the store had delivered for a full liveness period since the last stall that froze it.
        const thawed = Math.max(0, ...spans.filter((s) => s.at + s.lengthMs <= at && s.lengthMs > PROBE_GAP).map((s) => s.at + s.lengthMs));
        expect(at - thawed).toBeGreaterThan(TIMEOUT);
      }),
      { seed: 8_102, numRuns: 300 },
    );
  });

  it('says why placement is frozen, and thaws when its own heartbeat comes back', () => {
    const table = new MemberTable(TIMEOUT, SELF, PROBE_GAP);
    expect(table.frozen(0)).toBe('not-yet-synced');
    table.heartbeat(rec(SELF, 1), 0);
    table.heartbeat(rec('a', 1), 0);
    expect(table.frozen(1_000)).toBeUndefined();
    expect(table.expire(PROBE_GAP + 1)).toEqual([]);
    expect(table.frozen(PROBE_GAP + 1)).toBe('own-heartbeat-missing');
    // 'a' has been silent 9 s, but the store was too: it gets a fresh timeout from the moment the store is back.
    table.heartbeat(rec(SELF, 2), 9_000);
    expect(table.frozen(9_000)).toBeUndefined();
    table.heartbeat(rec(SELF, 3), 10_000);
    table.heartbeat(rec(SELF, 4), 11_000);
    table.heartbeat(rec(SELF, 5), 12_000);
    expect(table.expire(12_500)).toEqual([]);
    table.heartbeat(rec(SELF, 6), 13_000);
    expect(table.expire(13_001)).toEqual(['a']);
    table.suspend();
    expect(table.frozen(13_002)).toBe('store-disconnected');
  });
});
