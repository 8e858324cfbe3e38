// A node that crashes and restarts under the same id before the fleet times it out: the ring never
// changes, so no plan runs, yet the users that failed over from it must go back to it. Real agents
// sharing one MemoryMembership, real @wsring/client instances over loopback sockets; agents and clients
// run on one ManualClock, so liveness, settling, pacing and the clients' backoff move only as the test says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type MoveReason, type WsringClient } from '@wsring/client';
import { createAgent, MemoryMembership, type Agent, type AgentOptions } from '../src/mod.js';
import { ProcessLine } from '../src/testing/mod.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { driveUntil, pass } from '../../../test/support/drive.js';

const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 3_000, settleMs: 200, host: '127.0.0.1' } satisfies Partial<AgentOptions>;
const USERS = 40;

interface Tracked {
  client: WsringClient;
  opens: number;
  moves: MoveReason[];
}

const clock = new ManualClock(1_000_000);
const store = new MemoryMembership(() => clock.now());
const agents = new Map<string, { agent: Agent; line: ProcessLine }>();
const clients = new Map<string, Tracked>();

async function start(id: string, port = 0): Promise<Agent> {
  const line = new ProcessLine(store);
  const agent = await createAgent({ id, membership: line, port, clock, ...TIMING, pacing: { ratePerSec: 400, burst: 20, jitterMs: 20 } });
  agents.set(id, { agent, line });
  return agent;
}

/** SIGKILL, in process: sockets cut without a close frame, heartbeats and deregistration gone. */
async function crash(id: string): Promise<number> {
  const { agent, line } = agents.get(id)!;
  agents.delete(id);
  const port = agent.port!;
  line.dead = true;
  for (const user of clients.keys()) agent.connection(user)?.socket.terminate();
  await agent.close();
  return port;
}

const running = () => [...agents.values()].map((a) => a.agent);
const ring = () => running()[0].topology.ring;

/** Every running agent on one ring and epoch; every client open on its owner, held there once. */
function settled(): boolean {
  const all = running();
  const { fingerprint, epoch } = all[0].topology;
  if (all.some((a) => a.topology.fingerprint !== fingerprint || a.topology.epoch !== epoch)) return false;
  if (all.reduce((n, a) => n + a.connections, 0) !== clients.size) return false;
  for (const [user, { client }] of clients) {
    if (client.state !== 'open' || client.node !== ring().owner(user)) return false;
    if (!agents.get(client.node)?.agent.connection(user)) return false;
  }
  return true;
}

function resetCounts(): void {
  for (const t of clients.values()) {
    t.opens = 0;
    t.moves = [];
  }
}

beforeAll(async () => {
  for (const id of ['a0', 'a1', 'a2']) await start(id);
  await driveUntil(clock, () => running().every((a) => a.topology.ring.nodes.length === 3), { what: 'three agents agree' });
  const bootstrap = running().map((a) => `http://127.0.0.1:${a.port}`);
  for (let i = 0; i < USERS; i++) {
    const user = `user-${i}`;
    const client = createClient({ user, bootstrap, backoff: { baseMs: 50, capMs: 400 }, random: () => 0.5, timers: clock });
    const tracked: Tracked = { client, opens: 0, moves: [] };
    client.on('open', () => tracked.opens++);
    client.on('moved', (m) => tracked.moves.push(m.reason));
    clients.set(user, tracked);
  }
  await driveUntil(clock, settled, { what: 'every client on its owner' });
});

afterAll(async () => {
  for (const { client } of clients.values()) client.close();
  await Promise.all(running().map((a) => a.close()));
});

describe('a node restarts within the liveness timeout', () => {
  it('the users that failed over from it go back to it, once each, and nobody else moves', async () => {
    const before = ring();
    const epochBefore = running()[0].topology.epoch;
    const onA0 = [...clients.keys()].filter((user) => before.owner(user) === 'a0');
    expect(onA0.length).toBeGreaterThan(5);
    resetCounts();

    const crashedAt = clock.now();
    const port = await crash('a0');
    // Every user of a0 fails over to its second node, which holds it as a stand-in.
    await driveUntil(clock, () => onA0.every((user) => clients.get(user)!.client.state === 'open' && clients.get(user)!.client.node !== 'a0'), { what: 'failover' });
    await pass(clock, 300);
    await start('a0', port);
    // Still within the liveness timeout: nobody timed a0 out, the ring never changed.
    expect(clock.now() - crashedAt).toBeLessThan(TIMING.livenessTimeoutMs);

    await driveUntil(clock, settled, { what: 'every client back on its owner' });
    // Anything still on its way (a late reconnect, a spurious rebalance) would show within a liveness timeout:
    // no agent may plan or send anything in it.
    const late: string[] = [];
    for (const a of running()) {
      a.on('rebalance', (e) => late.push(`${a.id} rebalanced to ${e.epoch}`));
      a.on('rebalance-sent', (e) => late.push(`${a.id} sent ${e.sent}`));
    }
    await pass(clock, TIMING.livenessTimeoutMs);
    expect(late).toEqual([]);
    expect(settled()).toBe(true);

    expect(ring().fingerprint).toBe(before.fingerprint);
    for (const a of running()) expect(a.topology.epoch).toBe(epochBefore);
    for (const [user, t] of clients) {
      if (onA0.includes(user)) {
        expect({ user, moves: t.moves, node: t.client.node }).toEqual({ user, moves: ['failover', 'reconnect'], node: 'a0' });
        expect(t.opens, `${user} opens`).toBe(2);
      } else {
        expect({ user, opens: t.opens, moves: t.moves }, `${user} keeps its socket`).toEqual({ user, opens: 0, moves: [] });
      }
    }
  });
});
