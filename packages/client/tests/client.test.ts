import { describe, expect, it, vi } from 'vitest';
import { ClientError, CloseCode, createClient, type ClientOptions } from '../src/mod.js';
import { ManualClock, fakeClient, makeTopology, nodeUrl, settle, welcome, type Fixture } from './fakes.js';

const setup = (overrides: Partial<ClientOptions> = {}, user = 'user-7') => fakeClient({ user, ...overrides });

/** A client that got nodes `ids` at `epoch` from its first /topology request and is connecting to its owner. */
async function connecting(ids: string[], epoch: number, overrides: Partial<ClientOptions> = {}) {
  const t = await makeTopology(ids, epoch);
  const env = setup(overrides);
  env.fetch.answer(t.topology);
  await settle();
  return { t, env };
}

/** A user whose owner under `a` differs from its owner under `b`. */
function movingUser(a: Fixture, b: Fixture): string {
  for (let i = 0; ; i++) if (a.ring.owner(`user-${i}`) !== b.ring.owner(`user-${i}`)) return `user-${i}`;
}

describe('createClient', () => {
  it('fetches /topology, connects straight to the owner with the connect params, and opens on welcome', async () => {
    const t = await makeTopology(['n1', 'n2', 'n3'], 5);
    const env = setup({ token: 'tok' });
    expect(env.client.state).toBe('bootstrapping');
    expect(env.fetch.requests[0].url).toMatch(/^http:\/\/[ab]\.test\/topology$/);
    env.fetch.answer(t.topology);
    await settle();
    expect(env.client.state).toBe('connecting');
    const owner = t.ring.owner('user-7');
    const socket = env.last();
    expect(socket.base).toBe(nodeUrl(owner));
    expect(socket.params.get('user')).toBe('user-7');
    expect(socket.params.get('token')).toBe('tok');
    expect(socket.params.get('epoch')).toBe('5');
    expect(socket.params.get('unreachable')).toBeNull();
    socket.serverOpen();
    socket.serverSend(welcome(owner, 5));
    expect(env.client.state).toBe('open');
    expect(env.client.node).toBe(owner);
    expect(env.seen.open).toEqual([{ node: owner, epoch: 5, standIn: false, user: 'user-7' }]);
    env.client.send({ hello: 1 });
    expect(JSON.parse(socket.sent[0])).toEqual({ type: 'message', data: { hello: 1 } });
    socket.serverSend({ type: 'message', data: 'hi', pos: 1 });
    socket.serverSend({ type: 'message', data: 'hi again', pos: 1 });
    expect(env.seen.message).toEqual(['hi']);
    env.client.close();
    expect(env.client.state).toBe('closed');
    expect(socket.closedBy).toBe('client');
    expect(env.seen.close).toEqual([{ code: 1000, reason: 'client closed' }]);
    expect(env.clock.pendingTimers).toBe(0);
  });

  it('tries the bootstrap URLs in turn', async () => {
    const t = await makeTopology(['n1', 'n2'], 1);
    const env = setup();
    const first = env.fetch.requests[0].url;
    env.fetch.fail();
    await settle();
    expect(env.fetch.requests[0].url).not.toBe(first);
    env.fetch.answer(t.topology);
    await settle();
    expect(env.client.state).toBe('connecting');
  });

  it('backs off with full jitter when no bootstrap URL answers, and reports it', async () => {
    const env = setup({ random: () => 0.999 });
    env.fetch.fail();
    await settle();
    env.fetch.fail();
    await settle();
    expect(env.client.state).toBe('reconnecting');
    expect(env.seen.error.map((e) => e.code)).toEqual(['BOOTSTRAP_FAILED']);
    expect(env.seen.reconnecting).toEqual([{ attempt: 1, delayMs: 249 }]);
    env.clock.fireNext();
    expect(env.client.state).toBe('bootstrapping');
    env.fetch.answer({ protocol: 99 });
    await settle();
    env.fetch.answer({ nonsense: true });
    await settle();
    expect(env.seen.reconnecting[1]).toEqual({ attempt: 2, delayMs: 499 });
  });

  it('follows a reconnect frame to a node of its topology and reports the move', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    const owner = t.ring.owner('user-7');
    const other = ['n1', 'n2', 'n3'].find((id) => id !== owner) as string;
    const first = env.last();
    first.serverSend(welcome(owner, 1));
    first.serverSend({ type: 'reconnect', node: other, url: nodeUrl(other), epoch: 1, fingerprint: 'f', graceMs: 5000 });
    expect(env.client.state).toBe('moving');
    expect(first.closedBy).toBe('client');
    const second = env.last();
    expect(second.base).toBe(nodeUrl(other));
    second.serverSend(welcome(other, 1, true));
    expect(env.client.state).toBe('open');
    expect(env.seen.moved).toEqual([{ from: owner, to: other, reason: 'reconnect' }]);
    expect(env.live()).toEqual([second]);
  });

  it('refetches the topology once for a node it does not know, then follows or refuses', async () => {
    const t3 = await makeTopology(['n1', 'n2', 'n3'], 1);
    const t4 = await makeTopology(['n1', 'n2', 'n3', 'n4'], 2);
    const user = movingUser(t3, t4);
    // No refetches beyond the first here (moves.test.ts covers them).
    const env = setup({ moveConfirmRetries: 0 }, user);
    env.fetch.answer(t3.topology);
    await settle();
    const owner = t3.ring.owner(user);
    env.last().serverSend(welcome(owner, 1));
    // A URL nobody listed: refetch, still unknown, ignored with an error; the connection stays.
    env.last().serverSend({ type: 'reconnect', node: 'evil', url: 'ws://evil.test/ws', epoch: 2, fingerprint: 'f', graceMs: 1 });
    expect(env.client.state).toBe('open');
    expect(env.fetch.requests).toHaveLength(1);
    env.fetch.answer(t3.topology);
    await settle();
    expect(env.client.state).toBe('open');
    expect(env.seen.error.map((e) => e.code)).toEqual(['UNKNOWN_NODE']);
    expect(env.sockets).toHaveLength(1);
    // A node that joined after our topology: the refetch confirms it and the client moves.
    const to = t4.ring.owner(user);
    env.last().serverSend({ type: 'reconnect', node: to, url: nodeUrl(to), epoch: 2, fingerprint: 'f', graceMs: 1 });
    env.fetch.answer(t4.topology);
    await settle();
    expect(env.client.state).toBe('moving');
    expect(env.last().base).toBe(nodeUrl(to));
    expect(env.last().params.get('epoch')).toBe('2');
    env.last().serverSend(welcome(to, 2));
    expect(env.seen.moved).toEqual([{ from: owner, to, reason: 'reconnect' }]);
    expect(env.client.epoch).toBe(2);
  });

  it('refuses a frame whose URL does not match the node the topology lists', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1, { moveConfirmRetries: 0 });
    const owner = t.ring.owner('user-7');
    const other = ['n1', 'n2', 'n3'].find((id) => id !== owner) as string;
    env.last().serverSend(welcome(owner, 1));
    env.last().serverSend({ type: 'reconnect', node: other, url: 'ws://elsewhere.test/ws', epoch: 1, fingerprint: 'f', graceMs: 1 });
    env.fetch.answer(t.topology);
    await settle();
    expect(env.sockets).toHaveLength(1);
    expect(env.seen.error[0]).toBeInstanceOf(ClientError);
    expect(env.seen.error[0].code).toBe('UNKNOWN_NODE');
  });

  it('fails over down its preference list, telling each node which ones were unreachable', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3', 'n4'], 1, { failoverDepth: 3 });
    const prefs = t.ring.owners('user-7', 3);
    env.last().serverClose(1006);
    expect(env.last().base).toBe(nodeUrl(prefs[1]));
    expect(env.last().params.get('unreachable')).toBe(prefs[0]);
    env.last().serverClose(1006);
    expect(env.last().base).toBe(nodeUrl(prefs[2]));
    expect(env.last().params.get('unreachable')).toBe(`${prefs[0]},${prefs[1]}`);
    env.last().serverSend(welcome(prefs[2], 1, true));
    expect(env.seen.moved).toEqual([{ from: prefs[0], to: prefs[2], reason: 'failover' }]);
    expect(env.seen.open[0].standIn).toBe(true);
  });

  it('carries the unreachable nodes (and a full sender) along a redirect, but not along a reconnect', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3', 'n4'], 1);
    const [p0, p1, p2] = t.ring.owners('user-7', 3);
    env.last().serverClose(1006);
    env.last().serverSend({ type: 'redirect', node: p2, url: nodeUrl(p2), epoch: 1, fingerprint: 'f', reason: 'capacity' });
    expect(env.last().base).toBe(nodeUrl(p2));
    expect(env.last().params.get('unreachable')).toBe(`${p0},${p1}`);
    env.last().serverSend(welcome(p2, 1, true));
    expect(env.seen.moved).toEqual([{ from: p0, to: p2, reason: 'failover' }]);
    env.last().serverSend({ type: 'reconnect', node: p1, url: nodeUrl(p1), epoch: 1, fingerprint: 'f', graceMs: 1 });
    expect(env.last().base).toBe(nodeUrl(p1));
    expect(env.last().params.get('unreachable')).toBeNull();
  });

  it('connects to a redirect or reconnect target with the epoch the frame names', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 4);
    const [p0, p1] = t.ring.owners('user-7', 2);
    expect(env.last().params.get('epoch')).toBe('4');
    env.last().serverSend({ type: 'redirect', node: p1, url: nodeUrl(p1), epoch: 6, fingerprint: 'f', reason: 'not-owner' });
    expect(env.last().params.get('epoch')).toBe('6');
    expect(env.last().params.get('unreachable')).toBeNull();
    // The redirect named a newer epoch than the client's: it refreshes its topology meanwhile.
    expect(env.fetch.requests).toHaveLength(1);
    env.last().serverSend(welcome(p1, 6));
    env.last().serverSend({ type: 'reconnect', node: p0, url: nodeUrl(p0), epoch: 7, fingerprint: 'f', graceMs: 1 });
    expect(env.last().params.get('epoch')).toBe('7');
  });

  it('does not reconnect a connection REPLACED by a newer one of the same user', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    env.last().serverSend(welcome(t.ring.owner('user-7'), 1));
    env.last().serverClose(CloseCode.REPLACED, 'replaced by a newer connection');
    expect(env.client.state).toBe('closed');
    expect(env.seen.close).toEqual([{ code: 4004, reason: 'replaced by a newer connection' }]);
    expect(env.clock.pendingTimers).toBe(0);
  });

  it('does not reconnect a session closed SESSION_LIMIT (the user opened more tabs than the node allows): no tug of war', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    env.last().serverSend(welcome(t.ring.owner('user-7'), 1));
    env.last().serverClose(CloseCode.SESSION_LIMIT, 'too many sessions');
    expect(env.client.state).toBe('closed');
    expect(env.seen.close).toEqual([{ code: 4006, reason: 'too many sessions' }]);
    expect(env.clock.pendingTimers).toBe(0);
  });

  it('exposes the session id and user the node gave, and keeps the session id across a reconnect', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    const owner = t.ring.owner('user-7');
    const first = env.last();
    expect(first.params.get('session')).toBeNull();
    first.serverOpen();
    first.serverSend({ type: 'welcome', node: owner, epoch: 1, fingerprint: 'f', session: 'tab-A1', user: 'user-7' });
    expect(env.client.sessionId).toBe('tab-A1');
    expect(env.client.userId).toBe('user-7');
    expect(env.seen.open.at(-1)).toMatchObject({ session: 'tab-A1', user: 'user-7' });
    first.serverClose(1011, 'oops');
    await env.clock.advance(60_000);
    await settle();
    expect(env.last()).not.toBe(first);
    expect(env.last().params.get('session')).toBe('tab-A1');
  });

  it('pings a silent connection, and leaves it when the silence lasts another interval', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1, { pingIntervalMs: 1000 });
    const owner = t.ring.owner('user-7');
    const socket = env.last();
    socket.serverOpen();
    socket.serverSend(welcome(owner, 1));
    // Traffic within an interval: no ping needed.
    socket.serverSend({ type: 'message', data: 1 });
    env.clock.fireNext();
    expect(socket.sent).toEqual([]);
    // A silent interval: a ping; an answer keeps the connection.
    env.clock.fireNext();
    expect(socket.sent.map((f) => JSON.parse(f))).toEqual([{ type: 'ping', ts: env.clock.now() }]);
    socket.serverSend({ type: 'pong', ts: 1 });
    env.clock.fireNext();
    expect(env.client.state).toBe('open');
    // Silence again, through the ping and one more interval: the connection is dead.
    env.clock.fireNext();
    expect(socket.sent.map((f) => JSON.parse(f).type)).toEqual(['ping', 'ping']);
    env.clock.fireNext();
    expect(env.client.state).toBe('reconnecting');
    expect(socket.closedBy).toBe('client');
    env.clock.fireNext();
    expect(env.last()).not.toBe(socket);
    expect(env.last().base).toBe(nodeUrl(owner));
  });

  it('backs off and refetches after the whole preference list failed', async () => {
    const { t, env } = await connecting(['n1', 'n2'], 1, { failoverDepth: 2 });
    env.last().serverClose(1006);
    env.last().serverClose(1006);
    expect(env.client.state).toBe('reconnecting');
    expect(env.sockets).toHaveLength(2);
    env.clock.fireNext();
    expect(env.client.state).toBe('bootstrapping');
    env.fetch.answer(t.topology);
    await settle();
    expect(env.last().base).toBe(nodeUrl(t.ring.owner('user-7')));
    expect(env.last().params.get('unreachable')).toBeNull();
  });

  it('treats a node that never welcomes as unreachable after the connect timeout', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1, { connectTimeoutMs: 1000 });
    const first = env.last();
    env.clock.fireNext();
    expect(first.closedBy).toBe('client');
    expect(env.last().params.get('unreachable')).toBe(t.ring.owner('user-7'));
  });

  it('follows a redirect in one hop, and stops following after maxRedirects', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1, { maxRedirects: 2 });
    const redirect = (node: string) => ({ type: 'redirect', node, url: nodeUrl(node), epoch: 1, fingerprint: 'f', reason: 'not-owner' }) as const;
    const owner = t.ring.owner('user-7');
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== owner);
    env.last().serverSend(redirect(others[0]));
    expect(env.client.state).toBe('moving');
    expect(env.last().base).toBe(nodeUrl(others[0]));
    env.last().serverSend(redirect(others[1]));
    env.last().serverSend(redirect(others[0]));
    expect(env.client.state).toBe('reconnecting');
    expect(env.sockets).toHaveLength(3);
    expect(env.live()).toHaveLength(0);
    expect(env.seen.error.map((e) => e.code)).toEqual(['REDIRECT_LOOP']);
  });

  it('stops for good on UNAUTHORIZED', async () => {
    const { env } = await connecting(['n1', 'n2', 'n3'], 1);
    env.last().serverClose(CloseCode.UNAUTHORIZED, 'expired token');
    expect(env.client.state).toBe('closed');
    expect(env.seen.close).toEqual([{ code: 4401, reason: 'expired token' }]);
    expect(env.clock.pendingTimers).toBe(0);
    expect(env.sockets).toHaveLength(1);
  });

  it('reconnects to its node after a drop, without reporting a move', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    const owner = t.ring.owner('user-7');
    env.last().serverSend(welcome(owner, 1));
    env.last().serverClose(1011);
    expect(env.client.state).toBe('reconnecting');
    expect(env.seen.reconnecting).toEqual([{ attempt: 1, delayMs: 125 }]);
    env.clock.fireNext();
    expect(env.client.state).toBe('connecting');
    expect(env.last().base).toBe(nodeUrl(owner));
    env.last().serverSend(welcome(owner, 1));
    expect(env.seen.moved).toEqual([]);
    expect(env.seen.open).toHaveLength(2);
  });

  it('refetches the topology in the background when a welcome reports a newer epoch', async () => {
    const { t, env } = await connecting(['n1', 'n2', 'n3'], 1);
    env.last().serverSend(welcome(t.ring.owner('user-7'), 3));
    expect(env.client.state).toBe('open');
    expect(env.fetch.requests).toHaveLength(1);
  });

  it('asks for a fresh token before every connect', async () => {
    let n = 0;
    const { env } = await connecting(['n1', 'n2', 'n3'], 1, { token: async () => `t${++n}` });
    expect(env.last().params.get('token')).toBe('t1');
    env.last().serverClose(1006);
    await settle();
    expect(env.last().params.get('token')).toBe('t2');
  });

  it('still runs on the deprecated timers option, and takes either it or clock', async () => {
    const timers = new ManualClock();
    const t = await makeTopology(['n1'], 1);
    const env = setup({ clock: undefined, timers: { setTimeout: (fn, ms) => timers.setTimeout(fn, ms), clearTimeout: (h) => timers.clearTimeout(h) } });
    env.fetch.answer(t.topology);
    await settle();
    expect(env.client.state).toBe('connecting');
    // The connect timeout runs on the given timers, not on the fixture's clock.
    expect(env.clock.pendingTimers).toBe(0);
    expect(timers.fireNext()).toBe(true);
    expect(env.client.state).toBe('reconnecting');
    env.client.close();
    const clock = new ManualClock();
    expect(() => setup({ clock, timers: clock })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => setup({ clock: { setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout } as never })).toThrow(/clock must have now/);
    expect(() => setup({ clock: undefined, timers: {} as never })).toThrow(/timers must have/);
  });

  it('throws typed errors for bad options and for send when not open', async () => {
    expect(() => createClient({ user: '', bootstrap: ['http://a'] })).toThrow(ClientError);
    expect(() => createClient({ user: 'u', bootstrap: [] })).toThrow(/bootstrap/);
    expect(() => createClient({ user: 'u', bootstrap: ['ftp://x'] })).toThrow(/http/);
    expect(() => createClient({ user: 'u', bootstrap: ['http://a'], backoff: { baseMs: 10, capMs: 5 } })).toThrow(/capMs/);
    expect(() => createClient({ user: 'u', bootstrap: ['http://a'], failoverDepth: 1.5 })).toThrow(/failoverDepth/);
    vi.stubGlobal('WebSocket', undefined);
    try {
      expect(() => createClient({ user: 'u', bootstrap: ['http://a'] })).toThrow(expect.objectContaining({ code: 'NO_WEBSOCKET' }));
    } finally {
      vi.unstubAllGlobals();
    }
    const env = setup();
    expect(() => env.client.send('x')).toThrow(expect.objectContaining({ code: 'NOT_OPEN' }));
    const t = await makeTopology(['n1'], 1);
    env.fetch.answer(t.topology);
    await settle();
    env.last().serverOpen();
    env.last().serverSend(welcome('n1', 1));
    expect(() => env.client.send(undefined)).toThrow(expect.objectContaining({ code: 'BAD_DATA' }));
    expect(() => env.client.send(10n)).toThrow(expect.objectContaining({ code: 'BAD_DATA' }));
  });

  it('lets listeners close or send from inside an event', async () => {
    const t = await makeTopology(['n1'], 1);
    const env = setup();
    env.client.once('open', () => {
      env.client.send('first words');
      env.client.close(1000, 'bye');
    });
    env.fetch.answer(t.topology);
    await settle();
    env.last().serverOpen();
    env.last().serverSend(welcome('n1', 1));
    expect(JSON.parse(env.last().sent[0])).toEqual({ type: 'message', data: 'first words' });
    expect(env.client.state).toBe('closed');
    expect(env.live()).toEqual([]);
    expect(env.clock.pendingTimers).toBe(0);
    expect(env.seen.close).toEqual([{ code: 1000, reason: 'bye' }]);
    env.client.close();
    expect(env.seen.close).toHaveLength(1);
  });

  it('keeps going when a listener throws', async () => {
    const t = await makeTopology(['n1'], 1);
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (e: unknown) => reported.push(e));
    try {
      const env = setup();
      env.client.on('open', () => {
        throw new Error('application bug');
      });
      env.fetch.answer(t.topology);
      await settle();
      env.last().serverSend(welcome('n1', 1));
      env.last().serverSend({ type: 'message', data: 'after' });
      expect(env.client.state).toBe('open');
      expect(env.seen.message).toEqual(['after']);
      expect(reported).toEqual([new Error('application bug')]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('reports undecodable frames and error frames without closing', async () => {
    const { env } = await connecting(['n1'], 1);
    env.last().serverSend(welcome('n1', 1));
    env.last().serverSend('{not json');
    env.last().serverSend('{"type":"surprise"}');
    env.last().serverSend({ type: 'error', code: 'UNKNOWN_FRAME', message: 'what' });
    expect(env.seen.error.map((e) => e.code)).toEqual(['BAD_FRAME', 'BAD_FRAME', 'SERVER_ERROR']);
    expect(env.client.state).toBe('open');
  });
});
