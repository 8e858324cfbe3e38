// Membership recovers after NATS restarts, with a few hundred users connected and delivery on: the
// watch's snapshot ends at the bucket's last sequence (nats-server 2.9 may overcount pending after it
// recovers its store), and every store step after a reconnect has a deadline.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { createAgent, NatsMembership, type Agent } from '../src/mod.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { SnapshotCollector } from '../src/membership/snapshot.js';
import { StepTimeoutError, withDeadline } from '../src/membership/deadline.js';
import { FAST, hold, openClient, until, type RawClient } from './helpers.js';

interface Entry {
  key: string;
  seq: number;
}

describe('the watch snapshot', () => {
  it('ends once every listed key has come, whatever order, repeats and skips the watch delivers them in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 8 }),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 40 }),
        (listed, arrivals) => {
          // The watch delivers any keys, some twice (a rewrite after the initial one), some late (the initial
          // entry was skipped because it was rewritten first); every listed key comes at least once in the end.
          const stream = [...arrivals, ...listed].map((key, seq) => ({ key, seq }));
          const completed: Entry[][] = [];
          const collector = new SnapshotCollector<Entry>(listed, (e) => e.key, (entries) => completed.push(entries));
          const live = stream.filter((e) => collector.offer(e));
          // Where the snapshot must end: at the arrival that brings the last listed key not seen before it.
          const end = listed.length === 0 ? 0 : Math.max(...listed.map((k) => stream.findIndex((e) => e.key === k))) + 1;
          expect(completed).toEqual([stream.slice(0, end)]);
          expect(live).toEqual(stream.slice(end));
          expect(collector.done).toBe(true);
        },
      ),
      { seed: 20_261_125, numRuns: 300 },
    );
  });

  it('is empty and complete at once for an empty bucket', () => {
    const completed: Entry[][] = [];
    const collector = new SnapshotCollector<Entry>([], (e) => e.key, (entries) => completed.push(entries));
    expect(completed).toEqual([[]]);
    expect(collector.offer({ key: 'a', seq: 1 })).toBe(true);
  });

  it('waits while a listed key has not come, however far the sequence has gone', () => {
    const completed: Entry[][] = [];
    const collector = new SnapshotCollector<Entry>(['a', 'b'], (e) => e.key, (entries) => completed.push(entries));
    expect(collector.offer({ key: 'a', seq: 4 })).toBe(false);
    expect(collector.offer({ key: 'a', seq: 90 })).toBe(false);
    expect(completed).toEqual([]);
    expect(collector.offer({ key: 'b', seq: 91 })).toBe(false);
    expect(completed).toEqual([[{ key: 'a', seq: 4 }, { key: 'a', seq: 90 }, { key: 'b', seq: 91 }]]);
    expect(collector.offer({ key: 'c', seq: 92 })).toBe(true);
  });
});

describe('store step deadlines', () => {
  it('pass a result or an error through', async () => {
    await expect(withDeadline(Promise.resolve(7), 1_000, 'step')).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('no')), 1_000, 'step')).rejects.toThrow('no');
  });

  it('reject a step that never answers with a StepTimeoutError, and hand a late result to discard', async () => {
    let answer!: (v: string) => void;
    const work = new Promise<string>((resolve) => (answer = resolve));
    const discarded: string[] = [];
    const step = withDeadline(work, 20, 'opening the watch', (late) => discarded.push(late));
    await expect(step).rejects.toBeInstanceOf(StepTimeoutError);
    await expect(step).rejects.toThrow(/opening the watch/);
    answer('watch');
    await work;
    expect(discarded).toEqual(['watch']);
  });

  it('refuse a step timeout that is not a positive integer, before connecting', async () => {
    for (const stepTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      await expect(NatsMembership.connect({ servers: 'nats://127.0.0.1:1', stepTimeoutMs })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    }
  });
});

describe('membership after a NATS restart, with users connected and delivery on', () => {
  const USERS = 300;
  // A fresh server each round: the first restart after a store was written is the one that recovers it.
  const ROUNDS = 5;
  let nats: NatsServer | undefined;
  let agents: Agent[] = [];
  let clients: RawClient[] = [];

  async function teardown(): Promise<void> {
    for (const c of clients) c.ws.terminate();
    await Promise.all(agents.map((a) => a.close()));
    await nats?.stop();
    clients = [];
    agents = [];
    nats = undefined;
  }

  afterAll(teardown);

  it(`recovers after every restart (${ROUNDS} fresh servers): connected again, heartbeats flowing, nobody disconnected, nothing rebalanced`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      nats = await startNatsServer({ jetstream: true });
      for (const id of ['a', 'b', 'c']) agents.push(await createAgent({ id, nats: { servers: nats.url }, ...FAST, heartbeatMs: 200, livenessTimeoutMs: 1_000 }));
      // Every agent has applied the three-node ring (a ring changes only when applied) under one label: no rebalance is pending.
      await until(() => agents.every((a) => a.topology.ring.nodes.length === 3 && a.topology.epoch === agents[0].topology.epoch), 10_000, `round ${round}: three nodes on every ring`);
      for (let i = 0; i < USERS; i++) {
        const user = `user-${i}`;
        const owner = agents.find((a) => a.id === a.topology.ring.owner(user))!;
        clients.push(openClient(owner.url, { user }));
      }
      await Promise.all(clients.map((c) => c.frame((f) => f.type === 'welcome', 20_000)));
      // Every connection is followed by delivery: a resync after the restart replays for all of them.
      await Promise.all(clients.map((c) => c.frame((f) => f.type === 'synced', 20_000)));
      const disconnected: number[] = [];
      for (const c of clients) c.ws.on('close', (code) => disconnected.push(code));
      const rebalances: number[] = [];
      for (const a of agents) a.on('rebalance', (e) => rebalances.push(e.epoch));
      const epoch = agents[0].topology.epoch;

      await nats.kill();
      await until(() => agents.every((a) => !a.health().membershipConnected), 10_000, `round ${round}: agents notice NATS is gone`);
      // The outage lasts a liveness timeout once noticed.
      await hold(1_000);
      await nats.restart();
      await until(() => agents.every((a) => a.health().membershipConnected), 20_000, `round ${round}: membership back on every agent`);
      // Heartbeats reach the store again from every agent.
      const reader = await connect({ servers: nats.url });
      try {
        const kv = await new Kvm(reader).open('wsring');
        const seqOf = async (id: string) => (await kv.get(`members.${id}`))?.json<{ seq: number }>().seq ?? 0;
        const before = await Promise.all(agents.map((a) => seqOf(a.id)));
        await until(async () => (await Promise.all(agents.map((a) => seqOf(a.id)))).every((s, i) => s > before[i]), 10_000, `round ${round}: heartbeats flowing`);
      } finally {
        await reader.close();
      }
      expect(disconnected).toEqual([]);
      expect(rebalances).toEqual([]);
      for (const a of agents) {
        expect(a.state).toBe('serving');
        expect(a.topology.epoch).toBe(epoch);
      }
      expect(agents.reduce((n, a) => n + a.connections, 0)).toBe(USERS);
      await teardown();
    }
  });
});
