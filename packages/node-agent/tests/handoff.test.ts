// A handoff deploy: a second process starts under a serving node's id on another port; it waits as the successor
// (no duplicate, the ring unchanged); the old process hands it the id's record and sends each of its users a
// reconnect frame naming the same node at the successor's URL, paced at the successor's accept rate. Each of its
// users moves exactly once, to the successor; nobody else moves; the ring and epoch stay; the successor then owns
// the record. Also: a drain whose deadline is too short spreads the remainder (delayed frames) instead of closing a
// crowd. Real agents over one MemoryMembership, real @wsring/client instances over loopback, one ManualClock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../src/mod.js';
import { laneBurst, warmingRate } from '../src/internal.js';
import { DEFAULTS } from '../src/mod.js';
import { driveUntil, pass } from '../../../test/support/drive.js';
import { worstExcess } from '../../../test/support/rate-window.js';
import { openClient } from './helpers.js';
import { LoopbackFleet } from './loopback-fleet.js';

const ACCEPT = 25;
const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 1_000, settleMs: 200, host: '127.0.0.1', acceptRate: ACCEPT, delivery: false, pacing: { ratePerSec: 1_000, burst: 20, jitterMs: 50, graceMs: 5_000 } } satisfies Partial<AgentOptions>;
const USERS = 60;

const fleet = new LoopbackFleet(TIMING);
const { clock, store, agents, clients } = fleet;
const start = (id: string) => fleet.start(id);
const running = () => fleet.running();
const ring = () => fleet.ring();
const settled = () => fleet.settled();
const urlOf = (id: string) => running()[0].topology.nodes.find((n) => n.id === id)?.url;

/** Arrivals within rate x window + burst over every window. */
const withinRate = (times: number[], rate: number, burst: number) => worstExcess([...times].sort((a, b) => a - b), rate) <= burst + 1e-9;

beforeAll(() => fleet.up(['h0', 'h1', 'h2'], USERS));
afterAll(() => fleet.stop());

describe('handoff deploy', () => {
  it('the successor waits without a conflict; each user of the node moves once, to it, within its accept rate; nobody else moves; ring and epoch stay', async () => {
    const before = ring();
    const epoch = running()[0].topology.epoch;
    const old = agents.get('h1')!;
    const oldUrl = urlOf('h1');
    const onH1 = [...clients.keys()].filter((user) => before.owner(user) === 'h1');
    expect(onH1.length).toBeGreaterThan(10);
    fleet.resetCounts();
    const next = await start('h1');
    // The successor begins serving now and warms up (the default warmupMs): it declares less at first.
    const servingSince = clock.now();
    expect(next.url).not.toBe(oldUrl);
    await pass(clock, 1_500);
    // Still the old process's node: the successor is no member, nobody moved.
    expect(urlOf('h1')).toBe(oldUrl);
    expect(ring().fingerprint).toBe(before.fingerprint);
    expect([...clients.values()].every((t) => t.opens.length === 0)).toBe(true);
    expect((await old.successor())?.url).toBe(next.url);

    const handedAt = clock.now();
    const done = old.handoff();
    await driveUntil(clock, () => onH1.every((u) => clients.get(u)!.opens.length > 0), { what: 'every user of h1 on the successor', maxMs: 20_000 });
    const { users, remaining } = await done;
    agents.set('h1', next);
    expect({ users, remaining }).toEqual({ users: onH1.length, remaining: 0 });
    await pass(clock, 3_000);
    expect(settled()).toBe(true);
    expect(urlOf('h1')).toBe(next.url);
    expect(ring().fingerprint).toBe(before.fingerprint);
    for (const a of running()) expect(a.topology.epoch).toBe(epoch);
    // The successor owns the record now: it heartbeats it.
    expect((await store.readRecords('h1')).member?.record.url).toBe(next.url);

    const arrivals: number[] = [];
    for (const [user, t] of clients) {
      if (onH1.includes(user)) {
        expect({ user, opens: t.opens.map((o) => o.node), moves: t.moves }).toEqual({ user, opens: ['h1'], moves: [] });
        arrivals.push(t.opens[0].at);
      } else expect({ user, opens: t.opens.length }).toEqual({ user, opens: 0 });
    }
    expect(next.connections).toBe(onH1.length);
    expect(withinRate(arrivals, ACCEPT, laneBurst(ACCEPT) + 1)).toBe(true);
    // And within what the successor declared as it warmed up: the handoff followed its record's rate, not the rate it
    // declared when it began waiting nor its whole rate (either runs ahead of this integral).
    const declaredBetween = (from: number, to: number) => {
      let users = 0;
      for (let t = from; t < to; t++) users += warmingRate(ACCEPT, t - servingSince, DEFAULTS.warmupMs) / 1000;
      return users;
    };
    const sorted = [...arrivals].sort((a, b) => a - b);
    for (const [k, t] of sorted.entries()) expect(k + 1, `user ${k + 1} at ${t - handedAt} ms`).toBeLessThanOrEqual(declaredBetween(handedAt, t) + laneBurst(ACCEPT) + 1 + ACCEPT * 0.1);
    const took = Math.max(...arrivals) - handedAt;
    console.log(`handoff: ${onH1.length} users in ${took} ms; M/A = ${Math.round((onH1.length / ACCEPT) * 1000)} ms, ratio ${(took / ((onH1.length / ACCEPT) * 1000)).toFixed(2)}`);
  });

  it('a drain whose deadline is too short gives the rest delayed frames: they still arrive within the receivers\' accept rates, nobody is closed without a frame', async () => {
    const before = ring();
    const draining = agents.get('h2')!;
    const onH2 = [...clients.keys()].filter((user) => before.owner(user) === 'h2');
    expect(onH2.length).toBeGreaterThan(10);
    fleet.resetCounts();
    const done = draining.drain({ deadlineMs: 300 });
    await driveUntil(clock, () => onH2.every((u) => clients.get(u)!.opens.length > 0), { what: 'every user of h2 moved', maxMs: 20_000 });
    // The deadline came first: some were still here, and got delayed frames rather than a close.
    expect((await done).remaining).toBeGreaterThan(0);
    agents.delete('h2');
    await driveUntil(clock, settled, { what: 'settled after the drain', maxMs: 10_000 });
    const byNode = new Map<string, number[]>();
    for (const user of onH2) {
      const t = clients.get(user)!;
      expect({ user, opens: t.opens.length, moves: t.moves }).toEqual({ user, opens: 1, moves: ['reconnect'] });
      const list = byNode.get(t.opens[0].node) ?? [];
      list.push(t.opens[0].at);
      byNode.set(t.opens[0].node, list);
    }
    // One sender per receiver: its share is the receiver's whole rate.
    for (const [, times] of byNode) expect(withinRate(times, ACCEPT, laneBurst(ACCEPT) + 1)).toBe(true);
  });

  it('a stand-in held by the node handed off goes home to its owner, not to the successor (where it would move again when it converges)', async () => {
    const before = ring();
    const old = agents.get('h0')!;
    // A user of h1 that reported h1 unreachable, so h0 holds it as a stand-in.
    const user = [...Array(1_000).keys()].map((i) => `stand-in-${i}`).find((u) => before.owner(u) === 'h1' && before.owners(u, 2)[1] === 'h0')!;
    const standIn = openClient(`ws://127.0.0.1:${old.port}/ws`, { user, unreachable: ['h1'], epoch: old.topology.epoch });
    await driveUntil(clock, () => standIn.frames.some((f) => f.type === 'welcome'), { what: 'the stand-in welcomed' });
    expect(standIn.frames[0]).toMatchObject({ type: 'welcome', node: 'h0', standIn: true });
    const onH0 = [...clients.keys()].filter((u) => before.owner(u) === 'h0');
    fleet.resetCounts();
    const next = await start('h0');
    await driveUntil(clock, async () => (await old.successor())?.url === next.url, { what: 'the successor waits' });
    const done = old.handoff();
    await driveUntil(clock, () => standIn.frames.some((f) => f.type === 'reconnect'), { what: 'the stand-in is moved', maxMs: 20_000 });
    const frame = standIn.frames.find((f) => f.type === 'reconnect');
    standIn.ws.close();
    expect(frame).toMatchObject({ type: 'reconnect', node: 'h1', url: urlOf('h1') });
    await driveUntil(clock, () => onH0.every((u) => clients.get(u)!.opens.length > 0), { what: 'every user of h0 on the successor', maxMs: 20_000 });
    expect((await done).remaining).toBe(0);
    agents.set('h0', next);
    for (const u of onH0) expect({ u, opens: clients.get(u)!.opens.map((o) => o.node) }).toEqual({ u, opens: ['h0'] });
  });
});
