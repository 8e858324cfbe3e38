import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryMembership, type MemberRecord, type MemberState } from '../src/mod.js';
import { TopologyTracker, placementSignature } from '../src/internal.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

const HEARTBEAT = 100;
const TIMEOUT = 400;
const SETTLE = 300;

/** What the agent should believe: records in the store, and when it last heard from each member. */
interface Model {
  store: Map<string, { record: MemberRecord; writtenAt: number }>;
  lastSeen: Map<string, number>;
  connected: boolean;
}

interface Real {
  clock: ManualClock;
  membership: MemoryMembership;
  tracker: TopologyTracker;
  settled: string[];
}

/** Evict in the model what the tracker evicts: silent past the timeout, unless the store is unreachable. */
function evict(m: Model, now: number): void {
  if (!m.connected) return;
  for (const [id, t] of m.lastSeen) if (now - t > TIMEOUT) m.lastSeen.delete(id);
}

function sync(m: Model, r: Real): void {
  r.tracker.tick();
  evict(m, r.clock.now());
}

function check(m: Model, r: Real): void {
  const believed = r.tracker.members.map((x) => x.id);
  expect(believed).toEqual([...m.lastSeen.keys()].sort());
  for (const rec of r.tracker.members) expect(rec).toEqual(m.store.get(rec.id)?.record ?? rec);
  // Never a rebalance that changes nothing.
  for (let i = 1; i < r.settled.length; i++) expect(r.settled[i]).not.toBe(r.settled[i - 1]);
}

const record = (id: string, weight: number, state: MemberState, seq: number): MemberRecord => ({ id, url: `ws://${id}`, weight, state, startedAt: 0, seq });

class Put implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string, readonly weight: number, readonly state: MemberState) {}
  check = () => true;
  async run(m: Model, r: Real) {
    sync(m, r);
    const seq = (m.store.get(this.id)?.record.seq ?? 0) + 1;
    const rec = record(this.id, this.weight, this.state, seq);
    if (m.connected) {
      await r.membership.put(rec);
      m.store.set(this.id, { record: rec, writtenAt: r.clock.now() });
      m.lastSeen.set(this.id, r.clock.now());
    } else await expect(r.membership.put(rec)).rejects.toThrow();
    check(m, r);
  }
  toString = () => `put(${this.id},${this.weight},${this.state})`;
}

/** A heartbeat: the same record again. */
class Beat implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (m: Readonly<Model>) => m.store.has(this.id) && m.connected;
  async run(m: Model, r: Real) {
    sync(m, r);
    const prev = m.store.get(this.id)!.record;
    const rec = { ...prev, seq: prev.seq + 1 };
    await r.membership.put(rec);
    m.store.set(this.id, { record: rec, writtenAt: r.clock.now() });
    m.lastSeen.set(this.id, r.clock.now());
    check(m, r);
  }
  toString = () => `beat(${this.id})`;
}

class Leave implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (m: Readonly<Model>) => m.connected;
  async run(m: Model, r: Real) {
    sync(m, r);
    await r.membership.remove(this.id);
    m.store.delete(this.id);
    m.lastSeen.delete(this.id);
    check(m, r);
  }
  toString = () => `leave(${this.id})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    sync(m, r);
    r.clock.runUntil(r.clock.now() + this.ms);
    sync(m, r);
    check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

class SetConnected implements fc.AsyncCommand<Model, Real> {
  constructor(readonly connected: boolean) {}
  check = (m: Readonly<Model>) => m.connected !== this.connected;
  async run(m: Model, r: Real) {
    sync(m, r);
    const now = r.clock.now();
    r.membership.setConnected(this.connected);
    m.connected = this.connected;
    if (this.connected) {
      // Resync: known members refreshed, unknown ones only if recent; then everyone gets a fresh timeout.
      const newest = Math.max(0, ...[...m.store.values()].map((s) => s.writtenAt));
      for (const [id, s] of m.store) {
        if (m.lastSeen.has(id) || newest - s.writtenAt < TIMEOUT) m.lastSeen.set(id, now);
      }
      for (const id of m.lastSeen.keys()) m.lastSeen.set(id, now);
    }
    check(m, r);
  }
  toString = () => (this.connected ? 'reconnect' : 'disconnect');
}

const ids = ['a', 'b', 'c', 'd', 'e'];
const commands = [
  fc.tuple(fc.constantFrom(...ids), fc.constantFrom(1, 2), fc.constantFrom<MemberState>('joining', 'active', 'active', 'draining')).map(([id, w, s]) => new Put(id, w, s)),
  fc.constantFrom(...ids).map((id) => new Beat(id)),
  fc.constantFrom(...ids).map((id) => new Beat(id)),
  fc.constantFrom(...ids).map((id) => new Leave(id)),
  fc.integer({ min: 1, max: 700 }).map((ms) => new Advance(ms)),
  fc.boolean().map((c) => new SetConnected(c)),
];

describe('membership and settling (model-based)', () => {
  it('the agent believes exactly the members heard from within the timeout (none evicted while the store is away), rebalances only on real changes, and settles on the live set', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const clock = new ManualClock();
        const membership = new MemoryMembership(() => clock.now());
        const settled: string[] = [];
        const tracker = new TopologyTracker({ settleMs: SETTLE, livenessTimeoutMs: TIMEOUT, heartbeatMs: HEARTBEAT, clock }, (s) => settled.push(s.signature));
        await membership.watch((e) => tracker.handle(e));
        const model: Model = { store: new Map(), lastSeen: new Map(), connected: true };
        const real: Real = { clock, membership, tracker, settled };
        await fc.asyncModelRun(() => ({ model, real }), cmds);

        // Settle: store back, every member that is still registered heartbeats, the window closes.
        if (!model.connected) await new SetConnected(true).run(model, real);
        for (let t = 0; t <= SETTLE + HEARTBEAT; t += HEARTBEAT) {
          for (const id of [...model.lastSeen.keys()]) if (model.store.has(id)) await new Beat(id).run(model, real);
          await new Advance(HEARTBEAT).run(model, real);
        }
        const live = tracker.members;
        expect(settled.at(-1)).toBe(placementSignature(live));
        expect(live.map((x) => x.id)).toEqual([...model.lastSeen.keys()].sort());
        tracker.stop();
      }),
      { seed: 2026, numRuns: 200 },
    );
  });
});
