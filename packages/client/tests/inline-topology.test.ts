// Reconnect and redirect frames that carry the sender's topology. A client given the fleet's key (`topologyKey`)
// verifies its signature, checks it against the frame and moves at once, without a `/topology` fetch; anything
// that does not check out falls back to the refetch path. A client without the key never adopts one.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from '../src/mod.js';
import type { ReconnectFrame, RedirectFrame, Topology } from '@wsring/protocol';
import { FLEET, fakeClient, fleetKey, makeTopology, nodeUrl, settle, welcome, type Fixture } from './fakes.js';

const setup = (user: string, overrides: Partial<ClientOptions> = {}) =>
  fakeClient({ user, bootstrap: ['http://a.test'], failoverDepth: 3, topologyKey: FLEET.publicKey, ...overrides });

let t3: Fixture;
let t4: Fixture;
/** A user that moves to the joiner n4 when it joins n1..n3. */
let mover: string;
/** A user for which n4 is not among its first three nodes under t4 (so n4 is no legitimate target for it). */
let bystander: string;

beforeAll(async () => {
  t3 = await makeTopology(['n1', 'n2', 'n3'], 1);
  t4 = await makeTopology(['n1', 'n2', 'n3', 'n4'], 2);
  const find = (ok: (user: string) => boolean) => {
    for (let i = 0; ; i++) if (ok(`user-${i}`)) return `user-${i}`;
  };
  mover = find((u) => t4.ring.owner(u) === 'n4');
  bystander = find((u) => !t4.ring.owners(u, 3).includes('n4'));
});

/** A client open on its owner under t3 (epoch 1). */
async function openOnT3(user: string, overrides: Partial<ClientOptions> = {}) {
  const env = setup(user, overrides);
  env.fetch.answer(t3.topology);
  await settle();
  const owner = t3.ring.owner(user);
  env.last().serverOpen();
  env.last().serverSend(welcome(owner, 1));
  expect(env.client.state).toBe('open');
  return { env, owner };
}

const reconnect = (node: string, topology: Topology, over: Partial<ReconnectFrame> = {}): ReconnectFrame => ({
  type: 'reconnect',
  node,
  url: nodeUrl(node),
  epoch: topology.epoch,
  fingerprint: topology.fingerprint,
  graceMs: 5_000,
  topology,
  ...over,
});

describe('move frames with an inline topology', () => {
  it('a reconnect to a node the client has never heard of moves at once, without any fetch', async () => {
    const { env, owner } = await openOnT3(mover);
    const first = env.last();
    first.serverSend(reconnect('n4', t4.topology));
    await settle();
    expect(env.fetch.requests).toHaveLength(0);
    expect(env.client.state).toBe('moving');
    expect(first.live).toBe(false);
    expect(env.last().base).toBe(nodeUrl('n4'));
    expect(env.last().params.get('epoch')).toBe('2');
    expect(env.client.epoch).toBe(2);
    env.last().serverOpen();
    env.last().serverSend(welcome('n4', 2));
    // Welcomed under the epoch it already holds: no background refresh either.
    expect(env.fetch.requests).toHaveLength(0);
    expect(env.seen.moved).toEqual([{ from: owner, to: 'n4', reason: 'reconnect' }]);
    expect(env.seen.error).toEqual([]);
    env.client.close();
  });

  it('a redirect at connect is followed before the close that comes right behind it', async () => {
    const env = setup(mover);
    env.fetch.answer(t3.topology);
    await settle();
    const old = env.last();
    expect(old.base).toBe(nodeUrl(t3.ring.owner(mover)));
    old.serverOpen();
    const redirect: RedirectFrame = { type: 'redirect', node: 'n4', url: nodeUrl('n4'), epoch: 2, fingerprint: t4.topology.fingerprint, reason: 'not-owner', topology: t4.topology };
    old.serverSend(redirect);
    // The close arrives while the topology is still loading: it must not be taken for a failed connect.
    old.serverClose(4001, 'not-owner');
    await settle();
    expect(env.fetch.requests).toHaveLength(0);
    expect(env.sockets).toHaveLength(2);
    expect(env.last().base).toBe(nodeUrl('n4'));
    expect(env.last().params.get('unreachable')).toBeNull();
    env.last().serverOpen();
    env.last().serverSend(welcome('n4', 2));
    expect(env.client.state).toBe('open');
    expect(env.seen.moved).toEqual([{ from: t3.ring.owner(mover), to: 'n4', reason: 'redirect' }]);
    expect(env.seen.reconnecting).toEqual([]);
    env.client.close();
  });

  // Each forgery names n4 (unknown to the client's t3) under a topology that does not check out. The client
  // refetches, gets t3 again (n4 really is unknown), and never opens a socket to the named URL. The signature
  // is the first check; the frame and body checks behind it hold even for a body the fleet's key signed.
  const forgeries: { name: string; user: () => string; frame: () => ReconnectFrame; code?: string }[] = [
    { name: 'no signature', user: () => mover, frame: () => reconnect('n4', { ...t4.topology, signature: undefined }), code: 'UNTRUSTED_TOPOLOGY' },
    { name: 'signed by another key', user: () => mover, frame: () => reconnect('n4', fleetKey().sign(t4.topology)), code: 'UNTRUSTED_TOPOLOGY' },
    { name: 'a signed body altered', user: () => mover, frame: () => reconnect('n4', { ...t4.topology, epoch: Number.MAX_SAFE_INTEGER }, { epoch: Number.MAX_SAFE_INTEGER }), code: 'UNTRUSTED_TOPOLOGY' },
    { name: 'fingerprint not the ring', user: () => mover, frame: () => reconnect('n4', t4.topology, { fingerprint: t3.topology.fingerprint }) },
    {
      name: 'fingerprint of the frame and the body agree, the ring disagrees',
      user: () => mover,
      frame: () => reconnect('n4', FLEET.sign({ ...t4.topology, fingerprint: 'forged' }), { fingerprint: 'forged' }),
    },
    { name: 'target not among the user’s nodes', user: () => bystander, frame: () => reconnect('n4', t4.topology) },
    { name: 'URL not the target’s', user: () => mover, frame: () => reconnect('n4', t4.topology, { url: 'ws://evil.test/ws' }) },
    { name: 'epoch not the frame’s', user: () => mover, frame: () => reconnect('n4', t4.topology, { epoch: 9 }) },
    { name: 'not a valid topology', user: () => mover, frame: () => reconnect('n4', FLEET.sign({ ...t4.topology, protocol: 99 })) },
    {
      name: 'a ring that does not load',
      user: () => mover,
      frame: () => reconnect('n4', FLEET.sign({ ...t4.topology, ring: { ...t4.topology.ring, version: 7 } as unknown as Topology['ring'] })),
    },
  ];
  for (const forgery of forgeries) {
    it(`falls back to a refetch and does not move: ${forgery.name}`, async () => {
      // Dropped at the first refetch that does not confirm it (moves.test.ts covers the further refetches).
      const { env } = await openOnT3(forgery.user(), { moveConfirmRetries: 0 });
      const frame = forgery.frame();
      env.last().serverSend(frame);
      await settle();
      expect(env.client.state).toBe('open');
      expect(env.client.epoch).toBe(1);
      const code = forgery.code ?? 'BAD_TOPOLOGY';
      expect(env.seen.error.map((e) => e.code)).toEqual([code]);
      expect(env.fetch.requests).toHaveLength(1);
      env.fetch.answer(t3.topology);
      await settle();
      expect(env.seen.error.map((e) => e.code)).toEqual([code, 'UNKNOWN_NODE']);
      expect(env.client.epoch).toBe(1);
      expect(env.sockets).toHaveLength(1);
      expect(env.sockets.some((s) => s.base === frame.url || s.base === nodeUrl('n4'))).toBe(false);
      expect(env.client.state).toBe('open');
      env.client.close();
    });
  }

  it('an inline topology older than the client’s is ignored without complaint; the move goes by its own', async () => {
    const env = setup(mover);
    env.fetch.answer(t4.topology);
    await settle();
    expect(env.last().base).toBe(nodeUrl('n4'));
    env.last().serverOpen();
    env.last().serverSend(welcome('n4', 2));
    const other = t4.ring.owners(mover, 2)[1];
    env.last().serverSend(reconnect(other, t3.topology));
    await settle();
    expect(env.seen.error).toEqual([]);
    expect(env.fetch.requests).toHaveLength(0);
    expect(env.client.epoch).toBe(2);
    expect(env.last().base).toBe(nodeUrl(other));
    env.client.close();
  });

  it('a fetch in flight when an inline topology is adopted still completes, and an older answer does not roll it back', async () => {
    const { env } = await openOnT3(mover);
    // A frame without a topology naming the unknown n4 started a refetch.
    const { topology: _, ...bare } = reconnect('n4', t4.topology);
    env.last().serverSend(bare);
    expect(env.fetch.requests).toHaveLength(1);
    env.last().serverSend(reconnect('n4', t4.topology));
    await settle();
    expect(env.last().base).toBe(nodeUrl('n4'));
    env.fetch.answer(t3.topology);
    await settle();
    expect(env.client.epoch).toBe(2);
    expect(env.fetch.requests).toHaveLength(0);
    env.client.close();
  });

  it('without the fleet key, an inline topology is not adopted: the move waits for the refetch to confirm it', async () => {
    const { env, owner } = await openOnT3(mover, { topologyKey: undefined });
    const first = env.last();
    // A forged epoch far ahead, naming the joiner under its real URL, with a topology that checks out otherwise.
    first.serverSend(reconnect('n4', t4.topology, { epoch: Number.MAX_SAFE_INTEGER }));
    await settle();
    expect(env.sockets).toHaveLength(1);
    expect(env.client.epoch).toBe(1);
    expect(env.fetch.requests).toHaveLength(1);
    env.fetch.answer(t4.topology);
    await settle();
    // Confirmed by the bootstrap URL: it goes, claiming only the epoch it verified.
    expect(env.client.epoch).toBe(2);
    expect(env.last().base).toBe(nodeUrl('n4'));
    expect(env.last().params.get('epoch')).toBe('2');
    env.last().serverOpen();
    env.last().serverSend(welcome('n4', 2));
    expect(env.seen.moved).toEqual([{ from: owner, to: 'n4', reason: 'reconnect' }]);
    expect(env.seen.error).toEqual([]);
    env.client.close();
  });

  it('with the fleet key, bootstrap answers must be signed too', async () => {
    const env = setup(mover);
    env.fetch.answer({ ...t3.topology, signature: undefined });
    await settle();
    expect(env.sockets).toHaveLength(0);
    expect(env.seen.error.map((e) => e.code)).toEqual(['BOOTSTRAP_FAILED']);
    expect(env.seen.error[0].message).toContain('not signed by the fleet key');
    env.client.close();
  });
});
