// Two kinds of move the agents send when a node's process leaves: a reconnect with `delayMs` (a drain or handoff
// past its deadline spreads its remaining users) and a reconnect naming the client's own node at another URL (a
// handoff deploy: the node's successor process serves the same node id elsewhere).
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReconnectFrame, Topology } from '@wsring/protocol';
import { FLEET, fakeClient, makeTopology, nodeUrl, settle, welcome, type Fixture } from './fakes.js';

let t3: Fixture;
let t3b: Fixture;
let t2: Fixture;
const user = 'user-7';

beforeAll(async () => {
  t3 = await makeTopology(['n1', 'n2', 'n3'], 1);
  t2 = await makeTopology(['n1', 'n2', 'n3'].filter((id) => id !== t3.ring.owner(user)), 2);
  // The same ring, its owner's URL that of the successor process.
  const moved = JSON.parse(JSON.stringify(t3.topology)) as Topology;
  const owner = t3.ring.owner(user);
  for (const n of moved.ring.nodes) if (n.id === owner) n.meta = { url: 'ws://successor.test/ws' };
  for (const n of moved.nodes) if (n.id === owner) n.url = 'ws://successor.test/ws';
  t3b = { ...t3, topology: FLEET.sign(moved) };
});

async function open(signed = false) {
  const env = fakeClient({ user, bootstrap: ['http://a.test'], ...(signed ? { topologyKey: FLEET.publicKey } : {}) });
  env.fetch.answer(t3.topology);
  await settle();
  const owner = t3.ring.owner(user);
  env.last().serverOpen();
  env.last().serverSend(welcome(owner, 1));
  expect(env.client.state).toBe('open');
  return { env, owner };
}

type Env = ReturnType<typeof fakeClient>;

/** The client left its socket `first` for the successor's URL and opens there, on the same node: no `moved` event, no error. */
function expectOnSuccessor(env: Env, first: ReturnType<Env['last']>, owner: string): void {
  expect(first.live).toBe(false);
  expect(env.last().base).toBe('ws://successor.test/ws');
  env.last().serverOpen();
  env.last().serverSend(welcome(owner, 1));
  expect(env.client.state).toBe('open');
  // Same node: no `moved` event, no failover.
  expect(env.seen.moved).toEqual([]);
  expect(env.seen.error).toEqual([]);
  env.client.close();
}

const frame = (node: string, topology: Topology, over: Partial<ReconnectFrame> = {}): ReconnectFrame => ({
  type: 'reconnect', node, url: nodeUrl(node), epoch: topology.epoch, fingerprint: topology.fingerprint, graceMs: 5_000, topology, ...over,
});

describe('delayed and same-node moves', () => {
  it('a reconnect with delayMs closes now and opens the target only once the delay has passed', async () => {
    const { env, owner } = await open();
    const first = env.last();
    const target = t2.ring.owner(user);
    first.serverSend(frame(target, t2.topology, { delayMs: 1_500 }));
    await settle();
    expect(first.live).toBe(false);
    expect(env.client.state).toBe('reconnecting');
    const sockets = env.sockets.length;
    env.clock.advance(1_499);
    await settle();
    expect(env.sockets.length).toBe(sockets);
    env.clock.advance(1);
    await settle();
    expect(env.sockets.length).toBe(sockets + 1);
    expect(env.last().base).toBe(nodeUrl(target));
    env.last().serverOpen();
    env.last().serverSend(welcome(target, 2));
    expect(env.seen.moved).toEqual([{ from: owner, to: target, reason: 'reconnect' }]);
    env.client.close();
  });

  it('a reconnect naming its own node at another URL (a handoff) moves there; the same URL is no move', async () => {
    const { env, owner } = await open();
    const first = env.last();
    first.serverSend(frame(owner, t3.topology));
    await settle();
    expect(first.live).toBe(true);
    first.serverSend(frame(owner, t3b.topology, { url: 'ws://successor.test/ws' }));
    await settle();
    // Unsigned, the frame's topology is not trusted and the trusted one lists the node elsewhere: the client asks its
    // bootstrap URLs first (docs/protocol.md section 11), which by then serve the successor's URL; the socket stays.
    expect(first.live).toBe(true);
    env.fetch.answer(t3b.topology);
    await settle();
    expectOnSuccessor(env, first, owner);
  });

  it('unsigned, a handoff frame whose first refetch reaches an agent that has not learned the successor yet is confirmed by a later refetch', async () => {
    const { env, owner } = await open();
    const first = env.last();
    first.serverSend(frame(owner, t3b.topology, { url: 'ws://successor.test/ws' }));
    await settle();
    expect(env.fetch.requests).toHaveLength(1);
    // The bootstrap agent asked still serves the old URL (it applies the handover a settle window later).
    env.fetch.answer(t3.topology);
    await settle();
    expect(first.live).toBe(true);
    expect(env.seen.error).toEqual([]);
    // It asks again after 250 ms, then 500 ms; a failed fetch counts as one more that did not confirm it.
    env.clock.advance(249);
    await settle();
    expect(env.fetch.requests).toHaveLength(0);
    env.clock.advance(1);
    await settle();
    expect(env.fetch.requests).toHaveLength(1);
    env.fetch.fail();
    await settle();
    expect(first.live).toBe(true);
    env.clock.advance(500);
    await settle();
    env.fetch.answer(t3b.topology);
    await settle();
    expectOnSuccessor(env, first, owner);
  });

  it('a move no refetch confirms is dropped after moveConfirmRetries more refetches, 250 ms doubling apart, with one UNKNOWN_NODE error', async () => {
    const { env, owner } = await open();
    const first = env.last();
    first.serverSend(frame(owner, t3b.topology, { url: 'ws://successor.test/ws' }));
    await settle();
    const fetchedAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      while (env.fetch.requests.length === 0) {
        env.clock.advance(1);
        await settle();
      }
      fetchedAt.push(env.clock.now());
      env.fetch.answer(t3.topology);
      await settle();
    }
    expect(fetchedAt.slice(1).map((t, i) => t - fetchedAt[i])).toEqual([250, 500, 1_000, 2_000]);
    expect(env.seen.error.map((e) => e.code)).toEqual(['UNKNOWN_NODE']);
    env.clock.advance(10_000);
    await settle();
    expect(env.fetch.requests).toHaveLength(0);
    expect(first.live).toBe(true);
    expect(env.client.state).toBe('open');
    env.client.close();
  });

  it('with the fleet key, a signed handoff frame is followed at once, without a fetch', async () => {
    const { env, owner } = await open(true);
    const first = env.last();
    first.serverSend(frame(owner, t3b.topology, { url: 'ws://successor.test/ws' }));
    await settle();
    expect(env.fetch.requests).toEqual([]);
    expectOnSuccessor(env, first, owner);
  });

  it('a delayed move that waits for the bootstrap URLs to confirm it still waits its delay after they do', async () => {
    const { env, owner } = await open();
    const first = env.last();
    // Unsigned, to its own node at the successor's URL: not listed by the trusted topology, so it is confirmed first.
    first.serverSend(frame(owner, t3b.topology, { url: 'ws://successor.test/ws', delayMs: 800 }));
    await settle();
    expect(first.live).toBe(true);
    env.fetch.answer(t3b.topology);
    await settle();
    expect(first.live).toBe(false);
    const sockets = env.sockets.length;
    env.clock.advance(799);
    await settle();
    expect(env.sockets.length).toBe(sockets);
    env.clock.advance(1);
    await settle();
    expect(env.sockets.length).toBe(sockets + 1);
    expect(env.last().base).toBe('ws://successor.test/ws');
    env.client.close();
  });
});
