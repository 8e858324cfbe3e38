import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { movedKeys } from '@wsring/ring';
import { CloseCode } from '@wsring/protocol';
import { createAgent, type Agent, type AgentOptions } from '../src/mod.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, FollowingClient, openClient, until } from './helpers.js';

const USERS = 150;
let nats: NatsServer;
const agents = new Map<string, Agent>();
let clients: FollowingClient[] = [];

const options = (id: string): AgentOptions => ({
  id,
  nats: { servers: nats.url, bucket: 'rebalance' },
  ...FAST,
  pacing: { ratePerSec: 400, burst: 20, jitterMs: 50, graceMs: 1_500 },
});
const urlOf = (id: string) => agents.get(id)!.url;
const ringIds = (a: Agent) => a.topology.ring.nodes.map((n) => n.id).join(',');

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  for (const id of ['a', 'b', 'c']) agents.set(id, await createAgent(options(id)));
  await until(() => [...agents.values()].every((a) => ringIds(a) === 'a,b,c'), 5_000, 'a,b,c agree');
  const entry = agents.get('a')!;
  clients = Array.from({ length: USERS }, (_, i) => new FollowingClient(`user-${i}`, urlOf));
  // Everyone starts at `a`; non-owners redirect them in one hop.
  for (const c of clients) await c.connect(entry.url);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...agents.values()].map((a) => a.close()));
  await nats.stop();
});

describe('rebalancing', () => {
  it('every client lands on its owner in at most one redirect', () => {
    const ring = agents.get('a')!.topology.ring;
    for (const c of clients) {
      expect(c.node).toBe(ring.owner(c.user));
      expect(c.redirects).toBeLessThanOrEqual(1);
    }
    const total = [...agents.values()].reduce((n, a) => n + a.connections, 0);
    expect(total).toBe(USERS);
  });

  it('a joining node takes exactly the users whose owner changed; nobody else is touched', async () => {
    const prev = agents.get('a')!.topology.ring;
    const redirectsBefore = new Map(clients.map((c) => [c.user, c.redirects]));
    agents.set('d', await createAgent(options('d')));
    await until(() => [...agents.values()].every((a) => ringIds(a) === 'a,b,c,d'), 5_000, 'a,b,c,d agree');
    const next = agents.get('a')!.topology.ring;
    const moved = movedKeys(prev, next, clients.map((c) => c.user));
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((m) => m.to === 'd')).toBe(true);
    await until(() => clients.every((c) => c.node === next.owner(c.user)), 15_000, 'moved clients on their new owner');
    await until(() => agents.get('d')!.connections === moved.length, 5_000, 'd holds the moved users');

    const expected = new Map(moved.map((m) => [m.key, m.to]));
    for (const c of clients) {
      if (expected.has(c.user)) {
        expect(c.reconnects.map((r) => r.node)).toEqual([expected.get(c.user)]);
        expect(c.welcomedOn.at(-1)).toBe('d');
        expect(c.redirects).toBe(redirectsBefore.get(c.user));
      } else {
        expect(c.reconnects).toEqual([]);
        expect(c.closedCodes).toEqual([]);
      }
    }
    const epochs = new Set([...agents.values()].map((a) => a.topology.epoch));
    expect(epochs.size).toBe(1);
    expect(clients.filter((c) => expected.has(c.user)).every((c) => c.reconnects[0].epoch === [...epochs][0])).toBe(true);
  });

  it('a draining node moves only its own users, closes one that ignores the reconnect with MOVED, deregisters and resolves empty', async () => {
    const b = agents.get('b')!;
    const prev = b.topology.ring;
    const onB = clients.filter((c) => c.node === 'b');
    const elsewhere = clients.filter((c) => c.node !== 'b');
    const before = new Map(elsewhere.map((c) => [c.user, c.reconnects.length]));
    const redirectsBefore = new Map(clients.map((c) => [c.user, c.redirects]));
    expect(onB.length).toBeGreaterThan(0);
    // A client that ignores reconnect frames.
    let stubbornUser = '';
    for (let i = 0; !stubbornUser; i++) if (prev.owner(`stubborn-${i}`) === 'b') stubbornUser = `stubborn-${i}`;
    const stubborn = openClient(b.url, { user: stubbornUser });
    await stubborn.frame((f) => f.type === 'welcome');

    const draining = b.drain({ deadlineMs: 10_000 });
    // While draining: health checks fail and newcomers are sent on.
    await until(() => b.state === 'draining', 2_000, 'draining');
    const health = await fetch(`http://127.0.0.1:${b.port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ state: 'draining' });
    await until(() => !b.topology.ring.nodes.some((n) => n.id === 'b'), 5_000, 'b out of its own ring');
    const newcomer = openClient(b.url, { user: 'newcomer' });
    expect(await newcomer.frame((f) => f.type === 'redirect')).toMatchObject({ reason: 'draining', node: b.topology.ring.owner('newcomer') });
    expect((await newcomer.closed).code).toBe(CloseCode.DRAINING);

    const result = await draining;
    expect(result).toEqual({ remaining: 0 });
    agents.delete('b');
    expect(await stubborn.frame((f) => f.type === 'reconnect')).toMatchObject({ type: 'reconnect', graceMs: 1_500 });
    expect((await stubborn.closed).code).toBe(CloseCode.MOVED);

    const rest = [...agents.values()];
    await until(() => rest.every((a) => ringIds(a) === 'a,c,d'), 5_000, 'b gone from every ring');
    const next = rest[0].topology.ring;
    await until(() => clients.every((c) => c.node === next.owner(c.user)), 15_000, 'everyone on its owner');
    for (const c of onB) {
      expect(c.reconnects.at(-1)!.node).toBe(next.owner(c.user));
      // The new node takes the user at once, even if it settles on the new ring a moment later.
      expect(c.redirects).toBe(redirectsBefore.get(c.user));
      expect(c.closedCodes).not.toContain(CloseCode.MOVED);
    }
    for (const c of elsewhere) expect(c.reconnects.length).toBe(before.get(c.user));
    expect(rest.reduce((n, a) => n + a.connections, 0)).toBe(USERS);

    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).open('rebalance');
    const record = await kv.get('members.b');
    expect(record === null || record.operation !== 'PUT').toBe(true);
    await nc.close();
  });
});
