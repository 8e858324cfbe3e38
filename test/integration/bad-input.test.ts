// Bad input against real agents with JWT authentication: each case gets its documented close code or error
// frame, the agent stays up, and well-behaved clients on the same agents notice nothing.
import { CloseCode, connectUrl, type ServerFrame } from '@wsring/client';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allOpen, health, hs256, startClients, startCluster, waitForAgreement, waitUntil, type Cluster, type TrackedClient } from './support.js';

const SECRET = 'integration-secret-of-at-least-32-bytes';
const MAX_PAYLOAD = 4_096;
const MESSAGE_BURST = 20;
const now = () => Math.floor(Date.now() / 1000);
const token = (sub: string, expiresIn = 600) => hs256({ sub, iat: now(), exp: now() + expiresIn }, SECRET);

interface Raw {
  ws: WebSocket;
  frames: ServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
  welcomed: Promise<void>;
}

/** A bare socket to `url` that records frames; for sending what @wsring/client never would. */
function raw(url: string): Raw {
  const ws = new WebSocket(url);
  const frames: ServerFrame[] = [];
  let welcome: () => void = () => {};
  const welcomed = new Promise<void>((resolve) => (welcome = resolve));
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrame;
    frames.push(frame);
    if (frame.type === 'welcome') welcome();
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return { ws, frames, closed, welcomed };
}

describe('bad input, against real agents', () => {
  let cluster: Cluster;
  let good: TrackedClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(['n1', 'n2', 'n3'], { jwtSecret: SECRET, maxPayload: MAX_PAYLOAD, messageRate: 10, messageBurst: MESSAGE_BURST });
  });

  afterAll(async () => {
    for (const c of good) c.client.close();
    await cluster?.stop();
  });

  it('closes each bad client with its documented code and leaves everyone else alone', async () => {
    const { ring } = await waitForAgreement(cluster.agents, 3);
    const goodUsers = Array.from({ length: 30 }, (_, i) => `good-${i}`);
    good = goodUsers.map((user) => startClients([user], cluster.agents, { token: token(user) })[0]);
    await allOpen(good);

    // Every bad client connects straight to its owner, so only authentication or its frames can stop it.
    const urlFor = (user: string, params: { token?: string; unreachable?: string[] } = {}) => {
      const owner = cluster.agents.find((a) => a.id === ring.owner(user));
      return connectUrl(owner!.url, { user, ...params });
    };

    // Invalid, expired, missing and mis-signed tokens: UNAUTHORIZED, through the real client too.
    const badTokens = {
      garbage: 'not-a-jwt',
      expired: hs256({ sub: 'late', iat: now() - 7200, exp: now() - 3600 }, SECRET),
      wrongKey: hs256({ sub: 'forger', exp: now() + 600 }, 'some other secret'),
      noSubject: hs256({ exp: now() + 600 }, SECRET),
    };
    for (const [name, bad] of Object.entries(badTokens)) {
      const socket = raw(urlFor(name, { token: bad }));
      expect((await socket.closed).code, name).toBe(CloseCode.UNAUTHORIZED);
      expect(socket.frames.filter((f) => f.type === 'welcome')).toEqual([]);
    }
    expect((await raw(urlFor('anonymous')).closed).code).toBe(CloseCode.UNAUTHORIZED);
    const [rejected] = startClients(['late'], cluster.agents, { token: badTokens.expired });
    await waitUntil(() => rejected.client.state === 'closed', 10_000, 'the expired client to close');
    expect(rejected.events.close).toEqual([expect.objectContaining({ code: CloseCode.UNAUTHORIZED })]);
    expect(rejected.sockets).toHaveLength(1);

    // Malformed frames: BAD_FRAME.
    for (const text of ['{not json', '[1,2,3]', '"a string"', '{"type":42}', '{"type":"message"}']) {
      const socket = raw(urlFor('mangler', { token: token('mangler') }));
      await socket.welcomed;
      socket.ws.send(text);
      expect((await socket.closed).code, text).toBe(CloseCode.BAD_FRAME);
    }
    const binary = raw(urlFor('binary', { token: token('binary') }));
    await binary.welcomed;
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.closed).code).toBe(CloseCode.BAD_FRAME);

    // An unknown frame type: an error frame, and the connection stays usable.
    const curious = raw(urlFor('curious', { token: token('curious') }));
    await curious.welcomed;
    curious.ws.send('{"type":"subscribe","topic":"everything"}');
    curious.ws.send('{"type":"ping","ts":7}');
    await waitUntil(() => curious.frames.some((f) => f.type === 'pong'), 5_000, 'a pong after the unknown frame');
    expect(curious.frames.find((f) => f.type === 'error')).toEqual(expect.objectContaining({ code: 'UNKNOWN_FRAME' }));
    expect(curious.ws.readyState).toBe(WebSocket.OPEN);
    curious.ws.close();

    // Oversize frame: 1009 from ws itself.
    const big = raw(urlFor('big', { token: token('big') }));
    await big.welcomed;
    big.ws.send(JSON.stringify({ type: 'message', data: 'x'.repeat(MAX_PAYLOAD * 2) }));
    expect((await big.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);

    // Flooding: more frames at once than the burst allows: RATE_LIMITED.
    const flood = raw(urlFor('flood', { token: token('flood') }));
    await flood.welcomed;
    for (let i = 0; i < MESSAGE_BURST * 5; i++) flood.ws.send(JSON.stringify({ type: 'message', data: i }));
    expect((await flood.closed).code).toBe(CloseCode.RATE_LIMITED);

    // A connect that claims more unreachable nodes than any preference list: BAD_FRAME before admission.
    const liar = raw(urlFor('liar', { token: token('liar'), unreachable: Array.from({ length: 50 }, (_, i) => `x${i}`) }));
    expect((await liar.closed).code).toBe(CloseCode.BAD_FRAME);

    // The agents are up and healthy; the good clients kept their first socket and still get answers.
    for (const agent of cluster.agents) {
      expect((await health(agent)).status).toBe(200);
      expect(await Promise.race([agent.exited.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
    }
    const echoes = new Map<string, unknown[]>();
    for (const c of good) {
      expect(c.client.state).toBe('open');
      expect(c.sockets).toHaveLength(1);
      expect(c.sockets[0].closeCode).toBeUndefined();
      echoes.set(c.user, []);
      c.client.on('message', (data) => echoes.get(c.user)!.push(data));
      c.client.send({ from: c.user });
    }
    await waitUntil(() => good.every((c) => echoes.get(c.user)!.length === 1), 10_000, 'every good client to get its echo');
    for (const c of good) expect(echoes.get(c.user)).toEqual([{ from: c.user }]);
  });
});
