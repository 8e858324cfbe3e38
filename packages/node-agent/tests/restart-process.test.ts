// The restart of restart.test.ts with every part real: agents in child processes on a real nats-server,
// one killed with SIGKILL and started again on the same port before the fleet times it out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRing, type Ring } from '@wsring/ring';
import { createClient, type MoveReason, type WsringClient } from '@wsring/client';
import type { Topology } from '@wsring/protocol';
import { spawnAgent, startNatsServer, type NatsServer, type SpawnedAgent } from '../src/testing/mod.js';
import { until, watchHeartbeats } from './helpers.js';

// Liveness well above what a SIGKILLed agent takes to come back as a new process on a loaded 2-core machine (seen: 6.2 s).
const TIMING = { heartbeatMs: 200, livenessMs: 10_000, settleMs: 300, rate: 200, jitterMs: 50 };
const USERS = 60;

let nats: NatsServer;
const agents = new Map<string, SpawnedAgent>();
const clients = new Map<string, { client: WsringClient; opens: number; moves: MoveReason[] }>();

const start = async (id: string, port?: number) => {
  const agent = await spawnAgent({ id, nats: nats.url, bucket: 'restart', noDelivery: true, ...TIMING, ...(port ? { port } : {}) });
  agents.set(id, agent);
  return agent;
};

async function topologies(): Promise<Topology[]> {
  return Promise.all([...agents.values()].map(async (a) => (await fetch(`${a.httpUrl}/topology`)).json() as Promise<Topology>));
}

/** Every agent on one ring and epoch, every client open on its owner under it. */
async function settled(): Promise<{ ring: Ring; epoch: number } | undefined> {
  const all = await topologies();
  if (all.some((t) => t.fingerprint !== all[0].fingerprint || t.epoch !== all[0].epoch || t.ring.nodes.length !== agents.size)) return undefined;
  const ring = await loadRing(all[0].ring);
  for (const [user, { client }] of clients) if (client.state !== 'open' || client.node !== ring.owner(user)) return undefined;
  return { ring, epoch: all[0].epoch };
}

async function waitSettled(what: string, timeoutMs = 15_000) {
  let last: Awaited<ReturnType<typeof settled>>;
  await until(async () => (last = await settled()) !== undefined, timeoutMs, what);
  return last!;
}

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  for (const id of ['a0', 'a1', 'a2']) await start(id);
  const bootstrap = [...agents.values()].map((a) => a.httpUrl);
  for (let i = 0; i < USERS; i++) {
    const user = `user-${i}`;
    const client = createClient({ user, bootstrap, backoff: { baseMs: 50, capMs: 400 } });
    const tracked = { client, opens: 0, moves: [] as MoveReason[] };
    client.on('open', () => tracked.opens++);
    client.on('moved', (m) => tracked.moves.push(m.reason));
    clients.set(user, tracked);
  }
  await waitSettled('every client on its owner');
});

afterAll(async () => {
  for (const { client } of clients.values()) client.close();
  await Promise.all([...agents.values()].map((a) => a.kill()));
  await nats?.stop();
});

describe('SIGKILL and restart on the same port within the liveness timeout', () => {
  it("the killed node's users fail over, then come back once it serves again; nobody else moves; the epoch stays", async () => {
    const before = await waitSettled('start');
    for (const t of clients.values()) {
      t.opens = 0;
      t.moves = [];
    }
    const victim = agents.get('a0')!;
    const theirs = [...clients.keys()].filter((u) => before.ring.owner(u) === 'a0');
    expect(theirs.length).toBeGreaterThan(5);

    // The survivors' heartbeats measure the agents' own time from the kill on.
    const heartbeats = await watchHeartbeats(nats.url, 'restart');
    const beatsAtKill = heartbeats.count('a1');
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    agents.delete('a0');
    await until(() => theirs.every((u) => clients.get(u)!.client.state === 'open' && clients.get(u)!.client.node !== 'a0'), 10_000, 'failover');
    await start('a0', victim.port);
    expect(Date.now() - killedAt, 'restarted within the liveness timeout').toBeLessThan(TIMING.livenessMs);

    const after = await waitSettled('users back on a0');
    // A rebalance for the restart (the old process timed out) would come within a liveness timeout and a settle
    // window of the kill, a late reconnect soon after settling: wait until a1 has heartbeated that long since
    // the kill, and twice since settling.
    try {
      const window = Math.ceil((TIMING.livenessMs + TIMING.settleMs) / TIMING.heartbeatMs) + 2;
      await heartbeats.more('a1', Math.max(2, beatsAtKill + window - heartbeats.count('a1')));
    } finally {
      await heartbeats.close();
    }
    const later = await settled();
    expect({ fingerprint: later?.ring.fingerprint, epoch: later?.epoch }).toEqual({ fingerprint: after.ring.fingerprint, epoch: after.epoch });
    expect(after.ring.fingerprint).toBe(before.ring.fingerprint);
    expect(after.epoch).toBe(before.epoch);
    for (const [user, t] of clients) {
      if (theirs.includes(user)) expect({ user, moves: t.moves, opens: t.opens, node: t.client.node }).toEqual({ user, moves: ['failover', 'reconnect'], opens: 2, node: 'a0' });
      else expect({ user, moves: t.moves, opens: t.opens }).toEqual({ user, moves: [], opens: 0 });
    }
  });
});
