import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '@wsring/protocol';
import { AgentError, AuthUnavailableError, createAgent, jwtAuthenticator, type Agent, type AgentOptions } from '../src/mod.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, openClient, until } from './helpers.js';

const SECRET = 'test-secret-at-least-32-bytes-long!!';
const secretKey = new TextEncoder().encode(SECRET);
const token = (sub: string, expiresIn: string | number = '1h', key = secretKey) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn).sign(key);

let nats: NatsServer;
let fleet: Agent[];
const others: Agent[] = [];
const byId = (id: string) => fleet.find((a) => a.id === id)!;

async function startFleet(ids: string[], bucket: string, extra: Partial<AgentOptions>): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (const id of ids) agents.push(await createAgent({ id, nats: { servers: nats.url, bucket }, ...FAST, ...extra }));
  const names = ids.join(',');
  await until(() => agents.every((a) => a.topology.ring.nodes.map((n) => n.id).join(',') === names), 5_000, `${names} agree`);
  return agents;
}

/** A user whose preference list starts with the given nodes. */
function userWithPrefs(agent: Agent, prefix: string[], salt = ''): string {
  for (let i = 0; ; i++) {
    const u = `user-${prefix.join('')}${salt}-${i}`;
    const prefs = agent.topology.ring.owners(u, prefix.length);
    if (prefs.every((p, j) => p === prefix[j])) return u;
  }
}

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  fleet = await startFleet(['a', 'b', 'c'], 'transport', {
    authenticate: jwtAuthenticator({ secret: SECRET }),
    maxPayload: 1024,
    messageRate: { perSec: 20, burst: 40 },
    onMessage: (_user, data, conn) => conn.send({ echo: data }),
  });
});
afterAll(async () => {
  await Promise.all([...fleet, ...others].map((a) => a.close()));
  await nats.stop();
});

describe('authentication', () => {
  it('accepts a valid JWT (query or Authorization header) and takes the user from sub', async () => {
    const user = userWithPrefs(byId('a'), ['a']);
    const c = openClient(byId('a').url, { user: 'ignored', token: await token(user) });
    expect(await c.frame((f) => f.type === 'welcome')).toMatchObject({ type: 'welcome', node: 'a', epoch: byId('a').topology.epoch });
    expect(byId('a').connection(user)).toBeDefined();
    c.ws.close();
    const h = openClient(byId('a').url, { user: 'x' }, { headers: { authorization: `Bearer ${await token(user)}` } });
    await h.frame((f) => f.type === 'welcome');
    h.ws.close();
  });

  it('closes with UNAUTHORIZED for a missing, invalid, wrongly signed or expired token', async () => {
    const user = userWithPrefs(byId('a'), ['a']);
    const tokens = [undefined, 'not.a.jwt', await token(user, '1h', new TextEncoder().encode('another-secret-another-secret-xx')), await token(user, Math.floor(Date.now() / 1000) - 60)];
    for (const t of tokens) {
      const c = openClient(byId('a').url, { user, token: t });
      expect((await c.closed).code).toBe(CloseCode.UNAUTHORIZED);
      expect(c.frames.some((f) => f.type === 'welcome')).toBe(false);
    }
  });
});

describe('JWT key sources', () => {
  const request = { headers: {} } as IncomingMessage;

  it('verifies ES256 tokens against a PEM public key and against a JWKS URL, and refuses other keys', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const sign = (key: CryptoKey, kid?: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', ...(kid ? { kid } : {}) }).setSubject('alice').setExpirationTime('5m').sign(key);
    const byPem = jwtAuthenticator({ publicKey: { pem: await exportSPKI(publicKey), algorithm: 'ES256' } });
    expect(await byPem(request, { user: '', token: await sign(privateKey) })).toEqual({ userId: 'alice', expiresAt: expect.any(Number) });
    await expect(byPem(request, { user: '', token: await sign(other.privateKey) })).rejects.toMatchObject({ name: 'AuthRejectedError', reason: 'bad-signature' });

    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const keyServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
    await new Promise<void>((r) => keyServer.listen(0, '127.0.0.1', () => r()));
    const keyPort = (keyServer.address() as AddressInfo).port;
    try {
      const byJwks = jwtAuthenticator({ jwksUrl: `http://127.0.0.1:${keyPort}/jwks.json` });
      expect(await byJwks(request, { user: '', token: await sign(privateKey, 'k1') })).toEqual({ userId: 'alice', expiresAt: expect.any(Number) });
      await expect(byJwks(request, { user: '', token: await sign(other.privateKey, 'k1') })).rejects.toMatchObject({ name: 'AuthRejectedError', reason: 'bad-signature' });
    } finally {
      keyServer.closeAllConnections();
      await new Promise((r) => keyServer.close(r));
    }
    expect(() => jwtAuthenticator({})).toThrow(AgentError);
    // The key server is gone: that says nothing about the token, so the client may retry.
    const byDeadJwks = jwtAuthenticator({ jwksUrl: `http://127.0.0.1:${keyPort}/jwks.json` });
    await expect(byDeadJwks(request, { user: '', token: await sign(privateKey, 'k1') })).rejects.toBeInstanceOf(AuthUnavailableError);
  });

  it('an authenticate that cannot decide closes with INTERNAL_ERROR (retryable), one that throws otherwise with UNAUTHORIZED', async () => {
    const hanging = await createAgent({ id: 'hang', nats: { servers: nats.url, bucket: 'auth-hang' }, ...FAST, authTimeoutMs: 200, authenticate: () => new Promise(() => {}) });
    const throwing = await createAgent({ id: 'throw', nats: { servers: nats.url, bucket: 'auth-throw' }, ...FAST, authenticate: () => { throw new Error('boom'); } });
    others.push(hanging, throwing);
    expect((await openClient(hanging.url, { user: 'u' }).closed).code).toBe(CloseCode.INTERNAL_ERROR);
    expect((await openClient(throwing.url, { user: 'u' }).closed).code).toBe(CloseCode.UNAUTHORIZED);
  });
});

describe('ownership at connect', () => {
  it('a non-owner sends a redirect to the owner and closes with REDIRECT; one hop reaches the owner', async () => {
    const user = userWithPrefs(byId('a'), ['b']);
    const t = await token(user);
    const c = openClient(byId('a').url, { user, token: t });
    const redirect = await c.frame((f) => f.type === 'redirect');
    expect(redirect).toMatchObject({ type: 'redirect', node: 'b', url: byId('b').url, reason: 'not-owner', epoch: byId('a').topology.epoch });
    expect((await c.closed).code).toBe(CloseCode.REDIRECT);
    const hop = openClient(redirect.type === 'redirect' ? redirect.url : '', { user, token: t });
    expect(await hop.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'b', standIn: false });
    hop.ws.close();
  });

  it('the next node of the preference list takes a user whose owner is reported unreachable (stand-in); the one after redirects', async () => {
    const user = userWithPrefs(byId('a'), ['a', 'b', 'c']);
    const t = await token(user);
    const second = openClient(byId('b').url, { user, token: t, unreachable: ['a'] });
    expect(await second.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'b', standIn: true });
    expect(byId('b').connection(user)?.standIn).toBe(true);
    const third = openClient(byId('c').url, { user, token: t, unreachable: ['a'] });
    expect(await third.frame((f) => f.type === 'redirect')).toMatchObject({ node: 'b', reason: 'not-owner' });
    // Both before c unreachable: c takes it.
    const last = openClient(byId('c').url, { user, token: t, unreachable: ['a', 'b'] });
    expect(await last.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'c', standIn: true });
    second.ws.close();
    last.ws.close();
  });

  it('holds several sessions of a user, each welcomed with its own session id and the user echoed', async () => {
    const user = userWithPrefs(byId('c'), ['c']);
    const first = openClient(byId('c').url, { user, token: await token(user) });
    const w1 = (await first.frame((f) => f.type === 'welcome')) as { session?: string; user?: string };
    const second = openClient(byId('c').url, { user, token: await token(user) });
    const w2 = (await second.frame((f) => f.type === 'welcome')) as { session?: string; user?: string };
    expect(w1.user).toBe(user);
    expect(w1.session).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(w2.session).not.toBe(w1.session);
    expect(byId('c').sessions(user).map((s) => s.sessionId)).toEqual([w1.session, w2.session]);
    expect(byId('c').sendTo(user, 'both')).toBe(true);
    await first.frame((f) => f.type === 'message');
    await second.frame((f) => f.type === 'message');
    // The same session again (a tab reconnecting while its old socket lingers) replaces only that socket, 4004.
    const again = openClient(byId('c').url, { user, token: await token(user), session: w1.session });
    expect(await again.frame((f) => f.type === 'welcome')).toMatchObject({ session: w1.session });
    expect((await first.closed).code).toBe(CloseCode.REPLACED);
    expect(byId('c').sessions(user).map((s) => s.sessionId)).toEqual([w2.session, w1.session]);
    expect(second.ws.readyState).toBe(WebSocket.OPEN);
    second.ws.close();
    again.ws.close();
  });

  it('past maxSessionsPerUser closes the oldest session with SESSION_LIMIT', async () => {
    const [s1] = await startFleet(['s1'], 'sessions-limit', { maxSessionsPerUser: 2 });
    others.push(s1);
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = openClient(s1.url, { user: 'many-tabs' });
      await tab.frame((f) => f.type === 'welcome');
      tabs.push(tab);
    }
    expect((await tabs[0].closed).code).toBe(CloseCode.SESSION_LIMIT);
    expect(s1.sessions('many-tabs')).toHaveLength(2);
    expect(s1.connections).toBe(2);
    expect(s1.users).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${s1.port}/metrics`)).text();
    expect(metrics).toContain('wsring_connections{node="s1"} 2');
    expect(metrics).toContain('wsring_users{node="s1"} 1');
    for (const tab of tabs.slice(1)) tab.ws.close();
  });
});

describe('frames', () => {
  let serial = 0;
  async function welcomed(node: string) {
    const user = userWithPrefs(byId(node), [node], `f${++serial}`);
    const c = openClient(byId(node).url, { user, token: await token(user) });
    await c.frame((f) => f.type === 'welcome');
    return c;
  }

  it('answers ping with pong, hands messages to onMessage, and answers an unknown frame type with an error frame', async () => {
    const c = await welcomed('a');
    c.send(JSON.stringify({ type: 'ping', ts: 42 }));
    expect(await c.frame((f) => f.type === 'pong')).toEqual({ type: 'pong', ts: 42 });
    c.send(JSON.stringify({ type: 'message', data: { n: 1 } }));
    expect(await c.frame((f) => f.type === 'message')).toEqual({ type: 'message', data: { echo: { n: 1 } } });
    c.send(JSON.stringify({ type: 'subscribe', topic: 'x' }));
    expect(await c.frame((f) => f.type === 'error')).toMatchObject({ type: 'error', code: 'UNKNOWN_FRAME' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('bad input gets its close code while the agent stays up and a bystander is unaffected', async () => {
    const bystander = await welcomed('b');
    const cases: [string, (c: ReturnType<typeof openClient>) => void, number][] = [
      ['not JSON', (c) => c.send('{nope'), CloseCode.BAD_FRAME],
      ['no type', (c) => c.send(JSON.stringify({ data: 1 })), CloseCode.BAD_FRAME],
      ['message without data', (c) => c.send(JSON.stringify({ type: 'message' })), CloseCode.BAD_FRAME],
      ['binary', (c) => c.send(Buffer.from([1, 2, 3])), CloseCode.BAD_FRAME],
      ['oversize', (c) => c.send(JSON.stringify({ type: 'message', data: 'x'.repeat(2_000) })), CloseCode.MESSAGE_TOO_BIG],
      ['flood', (c) => { for (let i = 0; i < 200; i++) c.send(JSON.stringify({ type: 'ping', ts: i })); }, CloseCode.RATE_LIMITED],
    ];
    for (const [name, misbehave, code] of cases) {
      const c = await welcomed('b');
      misbehave(c);
      expect({ name, code: (await c.closed).code }).toEqual({ name, code });
    }
    bystander.send(JSON.stringify({ type: 'ping', ts: 7 }));
    expect(await bystander.frame((f) => f.type === 'pong' && f.ts === 7)).toBeTruthy();
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
    expect(byId('b').health().state).toBe('serving');
    const refused = await (await fetch(`http://127.0.0.1:${byId('b').port}/metrics`)).text();
    expect(refused).toMatch(/wsring_refused_total\{code="4429",node="b"\} 1/);
    bystander.ws.close();
  });

  it('refuses an unreachable list longer than the limit with BAD_FRAME', async () => {
    const c = openClient(byId('a').url, { user: 'u', token: await token('u'), unreachable: Array.from({ length: 9 }, (_, i) => `n${i}`) });
    expect((await c.closed).code).toBe(CloseCode.BAD_FRAME);
  });
});

describe('http endpoints', () => {
  it('GET /topology: protocol body with ring nodes carrying meta.url, CORS for browsers', async () => {
    const a = byId('a');
    const res = await fetch(`http://127.0.0.1:${a.port}/topology`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = await res.json();
    expect(body).toMatchObject({ protocol: 1, epoch: a.topology.epoch, fingerprint: a.topology.fingerprint });
    expect(body.ring.nodes.map((n: { id: string; meta: { url: string } }) => [n.id, n.meta.url])).toEqual(fleet.map((x) => [x.id, x.url]));
    expect(body.nodes.map((n: { id: string; state: string }) => `${n.id}:${n.state}`)).toEqual(['a:active', 'b:active', 'c:active']);
    const preflight = await fetch(`http://127.0.0.1:${a.port}/topology`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
  });

  it('GET /healthz and /metrics', async () => {
    const a = byId('a');
    const health = await fetch(`http://127.0.0.1:${a.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ id: 'a', state: 'serving', capacity: 10_000, epoch: a.topology.epoch, membershipConnected: true });
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    for (const name of ['wsring_connections', 'wsring_users_moved_total', 'wsring_reconnects_sent_total', 'wsring_rebalance_duration_seconds', 'wsring_epoch']) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toContain(`wsring_epoch{node="a"} ${a.topology.epoch}`);
  });
});

describe('capacity', () => {
  it('at the limit new users spill to the next node of their preference list, /healthz answers 503, and with no room left OVER_CAPACITY', async () => {
    const [p, q] = await startFleet(['p', 'q'], 'capacity', { capacity: 2 });
    others.push(p, q);
    const owned: string[] = [];
    for (let i = 0; owned.length < 4; i++) if (p.topology.ring.owner(`cap-${i}`) === 'p') owned.push(`cap-${i}`);
    const first = openClient(p.url, { user: owned[0] });
    const second = openClient(p.url, { user: owned[1] });
    await first.frame((f) => f.type === 'welcome');
    await second.frame((f) => f.type === 'welcome');
    expect((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status).toBe(503);

    const third = openClient(p.url, { user: owned[2] });
    expect(await third.frame((f) => f.type === 'redirect')).toMatchObject({ node: 'q', url: q.url, reason: 'capacity' });
    expect((await third.closed).code).toBe(CloseCode.REDIRECT);
    // The client names the full node as one to avoid; q takes it as a stand-in.
    const spilled = openClient(q.url, { user: owned[2], unreachable: ['p'] });
    expect(await spilled.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'q', standIn: true });
    const fourth = openClient(q.url, { user: owned[3], unreachable: ['p'] });
    await fourth.frame((f) => f.type === 'welcome');
    // Both full: the owner spills to q, q has no one left to spill to.
    const fifth = openClient(p.url, { user: owned[3] + '-late' });
    const late = owned[3] + '-late';
    const lateOwner = p.topology.ring.owner(late) === 'p' ? p : q;
    const lateOther = lateOwner === p ? q : p;
    const atOwner = lateOwner === p ? fifth : openClient(q.url, { user: late });
    expect(await atOwner.frame((f) => f.type === 'redirect')).toMatchObject({ node: lateOther.id, reason: 'capacity' });
    const atOther = openClient(lateOther.url, { user: late, unreachable: [lateOwner.id] });
    expect((await atOther.closed).code).toBe(CloseCode.OVER_CAPACITY);
    // A further session of a user already here is refused, not spilled (its sessions share a node) ...
    const tab = openClient(p.url, { user: owned[0] });
    expect((await tab.closed).code).toBe(CloseCode.OVER_CAPACITY);
    // ... while the same session reconnecting needs no new slot.
    const session = (first.frames.find((f) => f.type === 'welcome') as { session: string }).session;
    const again = openClient(p.url, { user: owned[0], session });
    await again.frame((f) => f.type === 'welcome');
    expect((await first.closed).code).toBe(CloseCode.REPLACED);
    for (const c of [second, spilled, fourth, again]) c.ws.close();
  });
});

describe('attaching to an application server', () => {
  it('shares an http.Server: the app keeps its routes and other upgrade paths, the agent adds its endpoints', async () => {
    const app: Server = createServer((req, res) => {
      res.writeHead(req.url === '/hello' ? 200 : 404).end(req.url === '/hello' ? 'hi' : '');
    });
    const appWss = new WebSocketServer({ noServer: true });
    app.on('upgrade', (req, socket, head) => {
      if (req.url === '/app-socket') appWss.handleUpgrade(req, socket, head, (ws) => ws.send('app'));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    const port = (app.address() as AddressInfo).port;
    const agent = await createAgent({ id: 'solo', server: app, url: `ws://127.0.0.1:${port}/ws`, nats: { servers: nats.url, bucket: 'attach' }, ...FAST });
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/hello`)).text()).toBe('hi');
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
      expect((await (await fetch(`http://127.0.0.1:${port}/topology`)).json()).nodes[0].id).toBe('solo');
      const c = openClient(`ws://127.0.0.1:${port}/ws`, { user: 'u1' });
      expect(await c.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'solo' });
      const appSocket = new WebSocket(`ws://127.0.0.1:${port}/app-socket`);
      expect(await new Promise((r) => appSocket.once('message', (d) => r(d.toString())))).toBe('app');
      appSocket.close();
      c.ws.close();
    } finally {
      await agent.close();
      appWss.close();
      await new Promise((r) => app.close(r));
    }
  });

  it('takes connections from an application WebSocketServer', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    const agent = await createAgent({ id: 'solo2', server: wss, url: `ws://127.0.0.1:${port}`, nats: { servers: nats.url, bucket: 'attach-wss' }, ...FAST });
    try {
      const c = openClient(`ws://127.0.0.1:${port}`, { user: 'u1' });
      expect(await c.frame((f) => f.type === 'welcome')).toMatchObject({ node: 'solo2' });
      expect(agent.connections).toBe(1);
      c.ws.close();
    } finally {
      await agent.close();
      await new Promise((r) => wss.close(r));
    }
  });

  it('rejects bad options with a typed error', async () => {
    const bad: Partial<AgentOptions>[] = [{ id: '' }, { id: 'has space' }, { id: 'x', weight: 0 }, { id: 'x', heartbeatMs: 1000, livenessTimeoutMs: 1500 }, { id: 'x', capacity: 0 }, { id: 'x', pacing: { ratePerSec: -1 } }, { id: 'x', restartWindowMs: -1 }, { id: 'x', restartWindowMs: Number.NaN }];
    for (const o of bad) {
      await expect(createAgent({ membership: undefined, nats: { servers: nats.url }, ...o } as AgentOptions)).rejects.toMatchObject({ name: 'AgentError', code: 'INVALID_OPTION' });
    }
    await expect(createAgent({ id: 'x' })).rejects.toBeInstanceOf(AgentError);
  });
});
