// What the client trusts from a node: move frames only within what its own topology says, the user the node
// authenticated, and the token lifecycle (TOKEN_EXPIRED renews a token from a function, ends a fixed one).
import { describe, expect, it } from 'vitest';
import { ClientError, CloseCode, createClient, type ClientOptions } from '../src/mod.js';
import { FLEET, fakeClient, fleetKey, makeTopology, nodeUrl, settle, welcome } from './fakes.js';

async function openClient(overrides: Partial<ClientOptions> = {}) {
  const t = await makeTopology(['n1', 'n2', 'n3'], 5);
  const env = fakeClient({ user: 'user-7', ...overrides });
  env.fetch.answer(t.topology);
  await settle();
  const owner = t.ring.owner('user-7');
  env.last().serverOpen();
  env.last().serverSend(welcome(owner, 5, false, 'user-7'));
  expect(env.client.state).toBe('open');
  return { t, env, owner, other: ['n1', 'n2', 'n3'].find((id) => id !== owner) as string };
}

describe('move frames the client cannot confirm', () => {
  it('a frame epoch far ahead is confirmed by a refetch before the move, and never becomes the client’s epoch', async () => {
    const { env, other, t } = await openClient();
    env.last().serverSend({ type: 'reconnect', node: other, url: nodeUrl(other), epoch: Number.MAX_SAFE_INTEGER, fingerprint: 'f', graceMs: 5_000 });
    await settle();
    expect(env.sockets).toHaveLength(1);
    expect(env.fetch.requests).toHaveLength(1);
    env.fetch.answer(t.topology);
    await settle();
    // Confirmed (the node is listed there under that URL): it moves, claiming the epoch it verified.
    expect(env.last().base).toBe(nodeUrl(other));
    expect(env.last().params.get('epoch')).toBe('5');
    expect(env.client.epoch).toBe(5);
    env.client.close();
  });

  it('a frame a few epochs ahead to a listed node is followed at once, and only refreshes the topology', async () => {
    const { env, other } = await openClient({ maxEpochLead: 4 });
    env.last().serverSend({ type: 'reconnect', node: other, url: nodeUrl(other), epoch: 9, fingerprint: 'f', graceMs: 5_000 });
    await settle();
    expect(env.last().base).toBe(nodeUrl(other));
    expect(env.last().params.get('epoch')).toBe('9');
    expect(env.client.epoch).toBe(5);
    expect(env.fetch.requests).toHaveLength(1);
    env.client.close();
  });
});

describe('the user the node authenticated', () => {
  it('is exposed as echoed by the welcome', async () => {
    const { env } = await openClient();
    expect(env.client.userId).toBe('user-7');
    expect(env.seen.open[0].user).toBe('user-7');
    env.client.close();
  });

  it('ends the client with USER_MISMATCH when it is someone else', async () => {
    const t = await makeTopology(['n1'], 1);
    const env = fakeClient({ user: 'bob', token: 'alice-token' });
    env.fetch.answer(t.topology);
    await settle();
    env.last().serverOpen();
    env.last().serverSend(welcome('n1', 1, false, 'alice'));
    expect(env.client.state).toBe('closed');
    expect(env.seen.open).toEqual([]);
    expect(env.seen.error.map((e) => e.code)).toEqual(['USER_MISMATCH']);
    expect(env.seen.close).toHaveLength(1);
    expect(env.live()).toEqual([]);
    expect(() => env.client.send('x')).toThrow(ClientError);
    expect(env.clock.pendingTimers).toBe(0);
  });

  it('refuses a topologyKey that is no Ed25519 public key up front with INVALID_OPTION', () => {
    const base = { user: 'u', bootstrap: ['http://a.test'], WebSocket: class {} as never, fetch: async () => ({ ok: true, status: 200, json: async () => ({}) }) };
    for (const topologyKey of ['nope', '', new Uint8Array(31), [], [FLEET.publicKey, 'short'], 7]) {
      expect(() => createClient({ ...base, topologyKey: topologyKey as never })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    }
    expect(() => createClient({ ...base, topologyKey: [FLEET.publicKey, fleetKey().publicKey] }).close()).not.toThrow();
  });

  it('refuses ill-formed user ids up front with INVALID_USER', () => {
    for (const user of ['carol\uD800', '\uDC00', '', 'x'.repeat(257)]) {
      expect(() => createClient({ user, bootstrap: ['http://a.test'], WebSocket: class {} as never, fetch: async () => ({ ok: true, status: 200, json: async () => ({}) }) })).toThrow(
        expect.objectContaining({ code: 'INVALID_USER' }),
      );
    }
  });
});

describe('token lifecycle', () => {
  it('TOKEN_EXPIRED: a token function is asked again and the client reconnects to the same node', async () => {
    let issued = 0;
    const { env, owner } = await openClient({ token: () => `token-${++issued}` });
    expect(env.last().params.get('token')).toBe('token-1');
    env.last().serverClose(CloseCode.TOKEN_EXPIRED, 'token expired');
    expect(env.client.state).toBe('reconnecting');
    env.clock.fireNext();
    await settle();
    expect(env.last().base).toBe(nodeUrl(owner));
    expect(env.last().params.get('token')).toBe('token-2');
    expect(env.last().params.get('unreachable')).toBeNull();
    env.last().serverOpen();
    env.last().serverSend(welcome(owner, 5, false, 'user-7'));
    expect(env.client.state).toBe('open');
    expect(env.seen.close).toEqual([]);
    env.client.close();
  });

  it('TOKEN_EXPIRED at connect is no failover either', async () => {
    let issued = 0;
    const t = await makeTopology(['n1', 'n2', 'n3'], 1);
    const env = fakeClient({ user: 'user-7', token: () => `token-${++issued}` });
    env.fetch.answer(t.topology);
    await settle();
    const owner = t.ring.owner('user-7');
    env.last().serverClose(CloseCode.TOKEN_EXPIRED);
    env.clock.fireNext();
    await settle();
    expect(env.last().base).toBe(nodeUrl(owner));
    expect(env.last().params.get('token')).toBe('token-2');
    env.client.close();
  });

  it('TOKEN_EXPIRED with a fixed token, and UNAUTHORIZED with any, end the client', async () => {
    for (const [token, code] of [
      ['fixed', CloseCode.TOKEN_EXPIRED],
      ['fixed', CloseCode.UNAUTHORIZED],
      [() => 'fresh', CloseCode.UNAUTHORIZED],
    ] as const) {
      const { env } = await openClient({ token });
      env.last().serverClose(code);
      expect(env.client.state).toBe('closed');
      expect(env.seen.close).toEqual([{ code, reason: '' }]);
      expect(env.clock.pendingTimers).toBe(0);
    }
  });
});
