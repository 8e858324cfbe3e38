// Issue 11, the agent's side, each finding against real agents over real sockets and a real nats-server: tokens
// (exp required, issuer, audience, pinned algorithms, iat ahead, closed TOKEN_EXPIRED at exp, failures logged without
// the token and counted), well-formed user ids, bounded resumes, and connections that never finish their handshake.
import { connect as tcpConnect, type Socket } from 'node:net';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@wsring/protocol';
import { AgentError, createAgent, jwtAuthenticator, type Agent, type Logger } from '../src/mod.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, openClient } from './helpers.js';

const SECRET = 'security-secret-0123456789abcdef0123';
const key = new TextEncoder().encode(SECRET);
const nowSec = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, secret = key) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);
const good = (sub: string, extra: Record<string, unknown> = {}) => sign({ sub, iss: 'wsring-test', aud: 'app', iat: nowSec(), exp: nowSec() + 600, ...extra });
/** A JWT with any header and payload, signed HS256 with `secret` (or unsigned for alg none). */
function handmade(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const body = `${part(header)}.${part(payload)}`;
  return header.alg === 'none' ? `${body}.` : `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}
const lines: Line[] = [];
const logger: Logger = {
  info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
};

let nats: NatsServer;
let agent: Agent;
let hygienic: Agent;
const metrics = async (a: Agent) => (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
const metric = (text: string, name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  agent = await createAgent({
    id: 'sec',
    nats: { servers: nats.url, bucket: 'security' },
    ...FAST,
    authenticate: jwtAuthenticator({ secret: SECRET, issuer: 'wsring-test', audience: 'app' }),
    logger,
  });
  hygienic = await createAgent({ id: 'hyg', nats: { servers: nats.url, bucket: 'hygiene' }, ...FAST, delivery: false, handshakeTimeoutMs: 300, maxConnectionsPerAddress: 5 });
}, 60_000);
afterAll(async () => {
  await Promise.all([agent?.close(), hygienic?.close()]);
  await nats?.stop();
});

const closeOf = async (token: string, params: Record<string, unknown> = {}) => (await openClient(agent.url, { user: '', token, ...params }).closed).code;

describe('tokens', () => {
  it('a valid token is welcomed, and the welcome names the user the agent authenticated', async () => {
    const c = openClient(agent.url, { user: 'someone-else', token: await good('alice') });
    expect(await c.frame((f) => f.type === 'welcome')).toMatchObject({ type: 'welcome', node: 'sec', user: 'alice' });
    c.ws.close();
  });

  it('refuses a token without exp, of another issuer or audience, issued a year ahead, unsigned, or signed with a weak key', async () => {
    const refused = {
      'claim-exp': await sign({ sub: 'u', iss: 'wsring-test', aud: 'app', iat: nowSec() }),
      'claim-iss': await good('u', { iss: 'someone-else' }),
      'claim-aud': await good('u', { aud: 'another-app' }),
      'claim-iat': await good('u', { iat: nowSec() + 365 * 86_400, exp: nowSec() + 366 * 86_400 }),
      algorithm: handmade({ alg: 'none' }, { sub: 'u', iss: 'wsring-test', aud: 'app', exp: nowSec() + 600 }),
      'bad-signature': await good('u').then((t) => `${t.slice(0, -4)}AAAA`),
      expired: await good('u', { iat: nowSec() - 600, exp: nowSec() - 60 }),
    };
    for (const token of Object.values(refused)) expect(await closeOf(token)).toBe(CloseCode.UNAUTHORIZED);
    expect(await closeOf('')).toBe(CloseCode.UNAUTHORIZED);
    const text = await metrics(agent);
    for (const reason of [...Object.keys(refused), 'missing-token']) expect({ reason, count: metric(text, 'wsring_auth_failures_total', `reason="${reason}"`) }).toEqual({ reason, count: 1 });
    // Logged with the reason and the peer (a few lines a second at most, the rest summed up), never with the token.
    const failures = lines.filter((l) => l.obj.event === 'auth-failed');
    expect(failures.length).toBeGreaterThanOrEqual(5);
    for (const l of failures) expect([...Object.keys(refused), 'missing-token']).toContain(l.obj.reason);
    expect(failures.every((l) => l.obj.address === '127.0.0.1')).toBe(true);
    const logged = JSON.stringify(lines);
    for (const token of Object.values(refused)) expect(logged).not.toContain(token.split('.')[1]);
  });

  it('refuses to be configured with a short HS256 secret, or with symmetric algorithms for a key set', () => {
    expect(() => jwtAuthenticator({ secret: 'sixchr' })).toThrow(AgentError);
    expect(() => jwtAuthenticator({ secret: 'x'.repeat(31) })).toThrow(/at least 32 bytes/);
    expect(() => jwtAuthenticator({ jwks: { keys: [] }, algorithms: ['HS256'] })).toThrow(AgentError);
    expect(() => jwtAuthenticator({ jwks: { keys: [] }, algorithms: ['none'] })).toThrow(AgentError);
  });

  it('closes an open socket with TOKEN_EXPIRED (4440) when its token passes exp, and counts it', async () => {
    const c = openClient(agent.url, { user: '', token: await good('short-lived', { exp: nowSec() + 2 }) });
    await c.frame((f) => f.type === 'welcome');
    expect((await c.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
    expect(metric(await metrics(agent), 'wsring_tokens_expired_total', '')).toBe(1);
  }, 20_000);
});

describe('user ids', () => {
  it('an id with an unpaired surrogate is refused, so it cannot read the messages of the id it would encode as', async () => {
    await agent.publish('carol\uFFFD', { secret: 'for carol\uFFFD only' });
    await expect(agent.publish('carol\uD800', 1)).rejects.toMatchObject({ code: 'BAD_USER' });
    const c = openClient(agent.url, { user: '', token: await good('carol\uD800'), last: 0 });
    expect((await c.closed).code).toBe(CloseCode.UNAUTHORIZED);
    expect(c.frames.filter((f) => f.type === 'message')).toEqual([]);
    // The well-formed one reads its own.
    const owner = openClient(agent.url, { user: '', token: await good('carol\uFFFD'), last: 0 });
    expect(await owner.frame((f) => f.type === 'message')).toMatchObject({ data: { secret: 'for carol\uFFFD only' } });
    owner.ws.close();
  });
});

describe('resumes', () => {
  it('a client repeating resume {last: 0} is closed RATE_LIMITED after the burst instead of replaying without end', async () => {
    for (let i = 0; i < 3; i++) await agent.publish('replayer', { i });
    const c = openClient(agent.url, { user: '', token: await good('replayer'), last: 0 });
    await c.frame((f) => f.type === 'message' && f.pos === 3);
    for (let i = 0; i < 50; i++) c.send(JSON.stringify({ type: 'resume', last: 0 }));
    expect((await c.closed).code).toBe(CloseCode.RATE_LIMITED);
    // At most the burst of replays went out before the close (3 messages each), not 50.
    expect(c.frames.filter((f) => f.type === 'message').length).toBeLessThanOrEqual(3 * 6);
  });
});

describe('connection hygiene', () => {
  const open = (localAddress = '127.0.0.1') =>
    new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect({ host: '127.0.0.1', port: hygienic.port!, localAddress }, () => resolve(s));
      s.once('error', reject);
    });
  const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

  it('drops TCP connections that never send a request, and keeps answering /healthz', async () => {
    const silent = await Promise.all(Array.from({ length: 4 }, () => open()));
    await Promise.all(silent.map(closed));
    expect((await fetch(`http://127.0.0.1:${hygienic.port}/healthz`)).status).toBe(200);
    expect(metric(await metrics(hygienic), 'wsring_connections_refused_total', 'reason="handshake-timeout"')).toBeGreaterThanOrEqual(4);
  }, 20_000);

  it('answers an upgrade on an unknown path with 400 at once', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: hygienic.port, path: '/not-ws', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });

  it('caps open connections per address: the one past the cap is dropped, another address still gets in', async () => {
    const capped = await createAgent({ id: 'cap', nats: { servers: nats.url, bucket: 'capped' }, ...FAST, delivery: false, maxConnectionsPerAddress: 5 });
    const open = (localAddress = '127.0.0.1') =>
      new Promise<Socket>((resolve, reject) => {
        const s = tcpConnect({ host: '127.0.0.1', port: capped.port!, localAddress }, () => resolve(s));
        s.once('error', reject);
      });
    const held = await Promise.all(Array.from({ length: 5 }, () => open()));
    const extra = await open();
    await closed(extra);
    expect(held.every((s) => !s.destroyed)).toBe(true);
    const other = new WebSocket(`ws://127.0.0.1:${capped.port}/ws?user=bob`, { localAddress: '127.0.0.2' });
    const first = await new Promise<string>((resolve, reject) => {
      other.once('message', (d) => resolve(JSON.parse(d.toString()).type));
      other.once('error', reject);
    });
    expect(first).toBe('welcome');
    other.close();
    // Read from the other address: 127.0.0.1 is full until the server has seen the held sockets close.
    const fromOther = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: capped.port, path: '/metrics', localAddress: '127.0.0.2' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    expect(metric(fromOther, 'wsring_connections_refused_total', 'reason="per-address-cap"')).toBe(1);
    for (const s of held) s.destroy();
    await capped.close();
  });
});

describe('library default', () => {
  it('an agent created without authenticate warns that it trusts the user parameter', async () => {
    const own: Line[] = [];
    const a = await createAgent({ id: 'lib', nats: { servers: nats.url, bucket: 'lib-default' }, ...FAST, delivery: false, logger: { ...logger, warn: (obj, msg) => own.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) } });
    await a.close();
    expect(own.some((l) => l.obj.event === 'insecure')).toBe(true);
  });
});
