import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { createAgent, NatsMembership, type Agent, type AgentOptions, type RebalanceEvent } from '../src/mod.js';
import { spawnAgent, startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, hold, LossyMembership, openClient, until, watchHeartbeats } from './helpers.js';

let nats: NatsServer;
let bucketSerial = 0;
const started: Agent[] = [];

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await nats.stop();
});

async function agent(id: string, bucket: string, extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const a = await createAgent({ id, nats: { servers: nats.url, bucket }, ...FAST, ...extra });
  started.push(a);
  return a;
}

function recordRebalances(agents: Agent[]): Map<string, RebalanceEvent[]> {
  const seen = new Map<string, RebalanceEvent[]>();
  for (const a of agents) {
    seen.set(a.id, []);
    a.on('rebalance', (e) => seen.get(a.id)!.push(e));
  }
  return seen;
}

const ids = (a: Agent) => a.topology.ring.nodes.map((n) => n.id).join(',');

describe('membership in NATS KV', () => {
  it('three agents register, watch each other and agree on ring, fingerprint and epoch; records have the documented format', async () => {
    const bucket = `m${++bucketSerial}`;
    const agents = [await agent('a', bucket), await agent('b', bucket), await agent('c', bucket)];
    await until(() => agents.every((a) => ids(a) === 'a,b,c'), 5_000, 'all agents see a,b,c');
    await until(() => new Set(agents.map((a) => `${a.topology.fingerprint}@${a.topology.epoch}`)).size === 1, 5_000, 'same epoch');
    await until(() => agents.every((a) => a.topology.nodes.every((n) => n.state === 'active')), 5_000, 'all active');

    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).open(bucket);
    const rec = (await kv.get('members.b'))!.json<Record<string, unknown>>();
    expect(rec).toMatchObject({ id: 'b', url: agents[1].url, weight: 1, state: 'active' });
    expect(typeof rec.startedAt).toBe('number');
    const seq1 = rec.seq as number;
    // It heartbeats: the record is rewritten with a higher seq, again and again.
    await until(async () => (await kv.get('members.b'))!.json<{ seq: number }>().seq >= seq1 + 2, 10_000, 'two more heartbeats of b');
    const label = (await kv.get('topology'))!.json<{ epoch: number; fingerprint: string }>();
    expect(label).toEqual({ epoch: agents[0].topology.epoch, fingerprint: agents[0].topology.fingerprint });
    await nc.close();
  });

  it('a member that misses heartbeats within the liveness timeout causes no rebalance; one silent past it causes exactly one', async () => {
    const bucket = `m${++bucketSerial}`;
    const a = await agent('a', bucket);
    const b = await agent('b', bucket);
    const lossy = new LossyMembership(await NatsMembership.connect({ servers: nats.url, bucket }));
    const c = await agent('c', bucket, { membership: lossy });
    // Every agent has applied a,b,c (a ring changes only when applied) under one label: no rebalance is pending.
    await until(() => [a, b, c].every((x) => ids(x) === 'a,b,c' && x.topology.epoch === a.topology.epoch), 5_000, 'a,b,c under one epoch');
    const epoch = a.topology.epoch;
    const seen = recordRebalances([a, b]);

    // Two heartbeats lost in a row: a 300 ms gap against a 500 ms timeout.
    lossy.dropPuts = 2;
    await until(() => lossy.dropPuts === 0, 5_000, 'two heartbeats of c lost');
    // Then twelve heartbeats of c: past a liveness timeout and a settle window after the gap, a misjudged gap would have rebalanced.
    const forwarded = lossy.forwarded;
    await until(() => lossy.forwarded >= forwarded + 12, 10_000, 'twelve heartbeats of c after the gap');
    expect(seen.get('a')).toEqual([]);
    expect(seen.get('b')).toEqual([]);
    expect(a.topology.epoch).toBe(epoch);

    // Silent for good: gone after the timeout, one rebalance on each survivor.
    lossy.dropAll = true;
    await until(() => ids(a) === 'a,b' && ids(b) === 'a,b', 5_000, 'c evicted');
    // A second rebalance would follow within a settle window: six more (lost) heartbeat intervals of c.
    const attempts = lossy.attempts;
    await until(() => lossy.attempts >= attempts + 6, 5_000, 'six heartbeat intervals after the eviction');
    expect(seen.get('a')!.length).toBe(1);
    expect(seen.get('b')!.length).toBe(1);
    expect(a.topology.epoch).toBe(b.topology.epoch);
    expect(a.topology.epoch).toBeGreaterThan(epoch);
    lossy.dropAll = false;
    await until(() => ids(a) === 'a,b,c', 5_000, 'c back');
    await lossy.close();
  });

  it('a crashed agent (SIGKILL) is removed by every survivor after the liveness timeout, in one rebalance, and stays gone across a NATS restart', async () => {
    const bucket = `m${++bucketSerial}`;
    const a = await agent('a', bucket);
    const b = await agent('b', bucket);
    const crashing = await spawnAgent({ id: 'x', nats: nats.url, bucket, settleMs: 300, heartbeatMs: 100, livenessMs: 500 });
    const heartbeats = await watchHeartbeats(nats.url, bucket);
    try {
      await until(() => ids(a) === 'a,b,x' && ids(b) === 'a,b,x' && a.topology.epoch === b.topology.epoch, 5_000, 'x joined');
      const seen = recordRebalances([a, b]);
      await crashing.kill('SIGKILL');
      await until(() => ids(a) === 'a,b' && ids(b) === 'a,b', 5_000, 'x removed');
      // A second rebalance would follow within a settle window and a bit: six heartbeats of a.
      await heartbeats.more('a', 6);
      expect(seen.get('a')!.length).toBe(1);
      expect(seen.get('b')!.length).toBe(1);
      // Its record is still in the bucket; a resync after an outage must not bring it back. The outage lasts
      // two liveness timeouts from when both agents have noticed it.
      await nats.kill();
      await until(() => !a.health().membershipConnected && !b.health().membershipConnected, 10_000, 'the outage noticed');
      await hold(2 * FAST.livenessTimeoutMs!);
      await nats.restart();
      await until(() => a.health().membershipConnected && b.health().membershipConnected, 10_000, 'reconnected');
      // Two liveness timeouts of heartbeats after the resync: x would be back, and then gone again, by then.
      await heartbeats.more('a', (2 * FAST.livenessTimeoutMs!) / FAST.heartbeatMs!);
      expect(seen.get('a')!.length).toBe(1);
      expect(seen.get('b')!.length).toBe(1);
      expect(ids(a)).toBe('a,b');
    } finally {
      await heartbeats.close();
      await crashing.kill();
    }
  });

  it('a record left by a node that died before this agent started does not count as alive', async () => {
    const bucket = `m${++bucketSerial}`;
    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).create(bucket, { history: 1 });
    await kv.put('members.ghost', JSON.stringify({ id: 'ghost', url: 'ws://127.0.0.1:1/ws', weight: 1, state: 'active', startedAt: 0, seq: 9 }));
    // The record must be older than a liveness timeout when the agent starts: the store's own clock ages it,
    // so real time has to pass (nothing to wait for instead).
    await hold(FAST.livenessTimeoutMs! + 300);
    const a = await agent('a', bucket);
    expect(ids(a)).toBe('a');
    // A live record written just now does count.
    await kv.put('members.fresh', JSON.stringify({ id: 'fresh', url: 'ws://127.0.0.1:2/ws', weight: 1, state: 'active', startedAt: 0, seq: 1 }));
    await until(() => ids(a) === 'a,fresh', 3_000, 'fresh seen');
    await nc.close();
  });

  it('several joins within the settle window cause one rebalance', async () => {
    const bucket = `m${++bucketSerial}`;
    const a = await agent('a', bucket, { settleMs: 1_500 });
    const seen = recordRebalances([a]);
    await Promise.all([agent('b', bucket, { settleMs: 1_500 }), agent('c', bucket, { settleMs: 1_500 }), agent('d', bucket, { settleMs: 1_500 })]);
    await until(() => ids(a) === 'a,b,c,d', 5_000, 'a sees all');
    // Another rebalance would follow within a settle window (1.5 s): twenty heartbeats of a.
    const heartbeats = await watchHeartbeats(nats.url, bucket);
    try {
      await heartbeats.more('a', 20);
    } finally {
      await heartbeats.close();
    }
    expect(seen.get('a')!.length).toBe(1);
    expect(ids(a)).toBe('a,b,c,d');
  });

  it('NATS restarting mid-run evicts nobody, disconnects no client, causes no rebalance; membership recovers', async () => {
    const bucket = `m${++bucketSerial}`;
    const agents = [await agent('a', bucket), await agent('b', bucket), await agent('c', bucket)];
    await until(() => agents.every((x) => ids(x) === 'a,b,c' && x.topology.epoch === agents[0].topology.epoch), 5_000, 'a,b,c under one epoch');
    const clients = [];
    for (let i = 0; i < 30; i++) {
      const user = `user-${i}`;
      const owner = agents.find((x) => x.id === x.topology.ring.owner(user))!;
      const c = openClient(owner.url, { user });
      await c.frame((f) => f.type === 'welcome');
      clients.push(c);
    }
    const epoch = agents[0].topology.epoch;
    const seen = recordRebalances(agents);
    const disconnected: number[] = [];
    for (const c of clients) c.ws.on('close', (code) => disconnected.push(code));

    // Down for three liveness timeouts after every agent noticed: silence during an outage must not read as death.
    await nats.kill();
    await until(() => agents.every((x) => !x.health().membershipConnected), 10_000, 'the outage noticed');
    await hold(3 * FAST.livenessTimeoutMs!);
    await nats.restart();
    await until(async () => {
      const h = await Promise.all(agents.map((x) => x.health()));
      return h.every((r) => r.membershipConnected);
    }, 10_000, 'membership reconnected');
    // Four liveness timeouts of heartbeats of every agent after the resync: a misjudged outage would have rebalanced by then.
    const heartbeats = await watchHeartbeats(nats.url, bucket);
    try {
      await Promise.all(agents.map((x) => heartbeats.more(x.id, (4 * FAST.livenessTimeoutMs!) / FAST.heartbeatMs!)));
    } finally {
      await heartbeats.close();
    }

    expect([...seen.values()].flat()).toEqual([]);
    expect(disconnected).toEqual([]);
    for (const x of agents) {
      expect(ids(x)).toBe('a,b,c');
      expect(x.topology.epoch).toBe(epoch);
    }
    expect(agents.reduce((n, x) => n + x.connections, 0)).toBe(30);
    // Heartbeats flow again.
    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).open(bucket);
    const before = (await kv.get('members.a'))!.json<{ seq: number }>().seq;
    await until(async () => (await kv.get('members.a'))!.json<{ seq: number }>().seq > before, 10_000, 'a heartbeat of a');
    await nc.close();
    for (const c of clients) c.ws.terminate();
  });
});

describe('node ids', () => {
  it("a fresh watch's snapshot holds every member even while they rewrite their records", async () => {
    // A starting agent settles on its snapshot at once: a member missing from it would give the fleet a
    // ring without that member, labelled with a new epoch, and then another one when its record arrives.
    const bucket = `m${++bucketSerial}`;
    const writer = await NatsMembership.connect({ servers: nats.url, bucket });
    const MEMBERS = 8;
    const record = (i: number, seq: number) => ({ id: `w${i}`, url: `ws://127.0.0.1:${1000 + i}/ws`, weight: 1, state: 'active' as const, startedAt: 1, seq });
    for (let i = 0; i < MEMBERS; i++) await writer.put(record(i, 0));
    let writing = true;
    // Every member rewrites its record back to back, as a busy fleet heartbeats.
    const rewrites = (async () => {
      for (let seq = 1; writing; seq++) await Promise.all(Array.from({ length: MEMBERS }, (_, i) => writer.put(record(i, seq))));
    })();
    try {
      for (let round = 0; round < 25; round++) {
        const reader = await NatsMembership.connect({ servers: nats.url, bucket });
        const seen = new Set<string>();
        let atSync: string[] | undefined;
        const synced = new Promise<void>((resolve) => {
          void reader.watch((e) => {
            if (e.type === 'put' && atSync === undefined) seen.add(e.record.id);
            if (e.type === 'synced') {
              atSync = [...seen].sort();
              resolve();
            }
          });
        });
        await synced;
        await reader.close();
        expect({ round, atSync }).toEqual({ round, atSync: Array.from({ length: MEMBERS }, (_, i) => `w${i}`) });
      }
    } finally {
      writing = false;
      await rewrites;
      await writer.close();
    }
  });

  it('an agent reports another process registering with its node id', async () => {
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, debug() {}, error: (_o: object, msg?: string) => errors.push(msg ?? '') };
    const bucket = `m${++bucketSerial}`;
    const a = await agent('twin', bucket, { logger });
    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).open(bucket);
    await kv.put('members.twin', JSON.stringify({ id: 'twin', url: 'ws://10.9.9.9:1/ws', weight: 1, state: 'active', startedAt: 1, seq: 1 }));
    await until(() => errors.includes('another agent uses this node id'), 3_000, 'duplicate reported');
    expect(a.state).toBe('serving');
    await nc.close();
  });
});
