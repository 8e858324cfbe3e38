// The fleet page's parts (issue 14): the ring's picture, arrivals per second, the feed and its frames.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRing, type Algorithm } from '@wsring/ring';
import { createAgent, MemoryMembership, type Agent } from '../src/mod.js';
import { CIRCLE, ringGeometry } from '../src/fleet-page/ring-arcs.js';
import { EpochHistory } from '../src/fleet-page/status.js';
import { sameSecret } from '../src/fleet-page/access.js';
import type { FleetSnapshot } from '../src/fleet-page/snapshot.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { until } from './helpers.js';
import { ringOf } from '../../../test/support/ring-of.js';

/** Read server-sent events from a fetch response until `enough` says so. */
async function readEvents(res: Response, enough: (events: { event: string; data: string }[]) => boolean, timeoutMs = 10_000): Promise<{ event: string; data: string }[]> {
  const events: { event: string; data: string }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!enough(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data !== undefined) events.push({ event, data });
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}

describe('the ring as the page draws it', () => {
  it.each<Algorithm>(['ring', 'maglev'])('%s: the arcs are the placement\'s ranges, cover the circle once, and every node has some', async (algorithm) => {
    const ring = await createRing([{ id: 'a', weight: 2 }, { id: 'b' }, { id: 'c' }], { algorithm });
    const g = await ringGeometry(ring);
    expect(g.nodes).toEqual(['a', 'b', 'c']);
    expect(g.shares.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 9);
    expect(g.shares[0]).toBeGreaterThan(g.shares[1]);
    let covered = 0;
    for (let i = 0; i < g.arcs.length; i += 3) {
      expect(g.arcs[i + 1]).toBeGreaterThan(g.arcs[i]);
      if (i > 0) expect(g.arcs[i]).toBeGreaterThanOrEqual(g.arcs[i - 2] - 1);
      covered += g.arcs[i + 1] - g.arcs[i];
    }
    expect(Math.abs(covered - CIRCLE)).toBeLessThanOrEqual(g.arcs.length / 3);
    for (let k = 0; k < 3; k++) expect(g.arcs.filter((_, i) => i % 3 === 2 && g.arcs[i] === k).length).toBeGreaterThan(0);
    // Exact (the ring's 480 ranges): an arc's owner is the ring's owner of a hash in its middle. Maglev's table
    // interleaves its 65,537 slots, more than are drawn: binned.
    if (algorithm === 'maglev') {
      expect(g.note).toMatch(/slot-table ranges, drawn as 8192 bins/);
      return;
    }
    expect(g.note).toMatch(/every arc is one of the placement's \d+ ranges/);
    for (let i = 0; i < g.arcs.length; i += 3 * 7) {
      if (g.arcs[i + 1] - g.arcs[i] < 4) continue;
      const mid = Math.floor(((g.arcs[i] + g.arcs[i + 1]) / 2) * 4096);
      expect(ring.ownerOfHash(mid)).toBe(g.nodes[g.arcs[i + 2]]);
    }
  });

  it('1,000 nodes: binned, yet every node keeps an arc', async () => {
    const ring = await createRing(Array.from({ length: 1_000 }, (_, i) => ({ id: `n${i}`, weight: 1 + (i % 3) })), { algorithm: 'maglev' });
    const g = await ringGeometry(ring);
    expect(g.arcs.length / 3).toBeLessThanOrEqual(8_192 + 1_000);
    const owners = new Set(g.arcs.filter((_, i) => i % 3 === 2));
    expect(owners.size).toBe(1_000);
    expect(g.note).toMatch(/8192 bins/);
  });

  it('rendezvous: shares by weight, and the picture says it is no position', async () => {
    const g = await ringGeometry(await createRing([{ id: 'a', weight: 3 }, { id: 'b' }], { algorithm: 'rendezvous' }));
    expect(g.shares).toEqual([0.75, 0.25]);
    expect(g.arcs).toEqual([0, CIRCLE * 0.75, 0, CIRCLE * 0.75, CIRCLE, 1]);
    expect(g.note).toMatch(/not a position/);
  });
});

describe('arrivals and epochs', () => {
  it('keeps the last epochs, newest last, with the users moved from here', () => {
    const h = new EpochHistory(3);
    for (let e = 1; e <= 5; e++) h.saw(e, `f${e}`, e, e * 10);
    h.saw(5, 'f5', 5, 99);
    h.moved(5, 'f5', 7);
    expect(h.list().map((x) => [x.epoch, x.movedHere])).toEqual([[3, undefined], [4, undefined], [5, 7]]);
  });
});

describe('the page and its feed', () => {
  const membership = new MemoryMembership();
  let agent: Agent;
  let plain: Agent;
  const auth = { authorization: 'Bearer s3cret-s3cret-s3cret' };
  beforeAll(async () => {
    for (let i = 1; i <= 4; i++) await membership.put({ id: `other-${i}`, url: `ws://10.0.0.${i}:8080/ws`, weight: i, state: i === 4 ? 'draining' : 'active', startedAt: 1, seq: 1, acceptRate: 500 });
    agent = await createAgent({ id: 'self', membership, host: '127.0.0.1', livenessTimeoutMs: 600_000, settleMs: 50, adminToken: 's3cret-s3cret-s3cret' });
    plain = await createAgent({ id: 'plain', membership, host: '127.0.0.1', livenessTimeoutMs: 600_000, settleMs: 50 });
    // `plain` joined after `agent` started: the frames must show the ring with both (other-4 drains, so 5 nodes).
    await ringOf(agent, 5);
  });
  afterAll(async () => {
    await agent?.close();
    await plain?.close();
  });
  const base = () => `http://127.0.0.1:${agent.port}`;

  it('does not exist without an admin credential', async () => {
    for (const path of ['/fleet', '/fleet/events', '/fleet/state', '/fleet/preview']) expect((await fetch(`http://127.0.0.1:${plain.port}${path}`, { headers: auth })).status).toBe(404);
  });

  it('serves one self-contained document', async () => {
    const res = await fetch(`${base()}/fleet`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html.length).toBeLessThan(60_000);
  });

  it('feeds a frame at once and then every second: members from membership, this agent from itself, and the ring', async () => {
    const started = Date.now();
    const res = await fetch(`${base()}/fleet/events`, { headers: auth });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = await readEvents(res, (e) => e.filter((x) => x.event === 'fleet').length >= 2 && e.some((x) => x.event === 'ring'));
    expect(Date.now() - started).toBeLessThan(8_000);
    const frame = JSON.parse(events.find((e) => e.event === 'fleet')!.data) as FleetSnapshot;
    expect(frame.bus).toBe('none');
    expect(frame.nodes.map((n) => n.id)).toEqual(['other-1', 'other-2', 'other-3', 'other-4', 'plain', 'self']);
    expect(frame.nodes.find((n) => n.id === 'self')).toMatchObject({ seen: true, conns: 0, cap: 10_000, inRing: true });
    expect(frame.nodes.find((n) => n.id === 'other-4')).toMatchObject({ seen: false, state: 'draining', inRing: false, acceptRate: 500 });
    expect(frame.missing).toEqual(['other-1', 'other-2', 'other-3', 'other-4', 'plain']);
    expect(frame.epoch).toBe(agent.topology.epoch);
    expect(frame.history.at(-1)).toMatchObject({ epoch: agent.topology.epoch, nodes: 5 });
    const ring = JSON.parse(events.find((e) => e.event === 'ring')!.data) as { nodes: string[]; fingerprint: string };
    expect(ring.nodes).toEqual(['other-1', 'other-2', 'other-3', 'plain', 'self']);
    expect(ring.fingerprint).toBe(agent.topology.fingerprint);
  });

  it('previews over the page: this agent answers, the others are named', async () => {
    const res = await fetch(`${base()}/fleet/preview`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ change: { add: [{ id: 'new' }] } }) });
    expect(res.status).toBe(200);
    const p = await res.json();
    expect(p.answered).toEqual(['self']);
    expect(p.missing).toEqual(['other-1', 'other-2', 'other-3', 'other-4', 'plain']);
    expect(p.note).toMatch(/in-memory membership/);
    const bad = await fetch(`${base()}/fleet/preview`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ change: { remove: 'x' } }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/remove must be a list/);
    const form = await fetch(`${base()}/fleet/preview`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'change=x' });
    expect(form.status).toBe(415);
  });
});

describe('admins only', () => {
  const TOKEN = 'adm1n-t0ken-0123456789';
  const JWT_SECRET = 'jwt-secret-for-admins-0123456789';
  const membership = new MemoryMembership();
  let agent: Agent;
  let jwtAgent: Agent;
  beforeAll(async () => {
    agent = await createAgent({ id: 'gate', membership, host: '127.0.0.1', settleMs: 50, adminToken: TOKEN, httpPrefix: '/ops' });
    jwtAgent = await createAgent({ id: 'gate-jwt', membership, host: '127.0.0.1', settleMs: 50, adminJwt: { secret: JWT_SECRET } });
  });
  afterAll(async () => {
    await agent?.close();
    await jwtAgent?.close();
  });
  const url = (path: string, a = agent) => `http://127.0.0.1:${a.port}${a === agent ? '/ops' : ''}${path}`;
  const login = (token: string, a = agent) => fetch(url('/fleet/login', a), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });

  it('compares secrets in constant time, over hashes of equal length', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abcd')).toBe(false);
  });

  it('answers a stranger with the login form (nothing of the fleet), and the feed, state and preview with 401', async () => {
    const page = await fetch(url('/fleet'));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('action="/ops/fleet/login"');
    expect(html).not.toContain('EventSource');
    for (const path of ['/fleet/events', '/fleet/state']) expect((await fetch(url(path), { headers: { authorization: 'Bearer wrong-wrong-wrong-wrong' } })).status).toBe(401);
    expect((await fetch(url('/fleet/preview'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"change":{"add":["x"]}}' })).status).toBe(401);
    // Only under the prefix.
    expect((await fetch(`http://127.0.0.1:${agent.port}/fleet`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });

  it('logs an admin in with a session cookie (HttpOnly, SameSite=Strict, the page\'s path), never the token itself', async () => {
    const wrong = await login('not-the-token-at-all');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That is not an admin credential.');
    const ok = await login(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/ops/fleet');
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^wsring_fleet=\d+\.[A-Za-z0-9_-]{43}; Path=\/ops\/fleet; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0];
    expect((await fetch(url('/fleet'), { headers: { cookie } })).status).toBe(200);
    expect((await fetch(url('/fleet/state'), { headers: { cookie } })).status).toBe(200);
    const [name, value] = cookie.split('=');
    const forged = `${name}=${Number(value.split('.')[0]) + 1}.${value.split('.')[1]}`;
    expect((await fetch(url('/fleet/state'), { headers: { cookie: forged } })).status).toBe(401);
    const out = await fetch(url('/fleet/logout'), { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(out.headers.get('set-cookie')).toMatch(/^wsring_fleet=; Path=\/ops\/fleet; Max-Age=0/);
  });

  it('admits a JWT with the admin role, and no other', async () => {
    const { SignJWT } = await import('jose');
    const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(JWT_SECRET));
    const state = async (token: string) => (await fetch(url('/fleet/state', jwtAgent), { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await state(await sign({ sub: 'ops', role: 'wsring-admin' }))).toBe(200);
    expect(await state(await sign({ sub: 'ops', roles: ['viewer', 'wsring-admin'] }))).toBe(200);
    expect(await state(await sign({ sub: 'someone', role: 'user' }))).toBe(401);
    expect(await state(await new SignJWT({ role: 'wsring-admin' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-0123456789')))).toBe(401);
    expect((await login(await sign({ role: 'wsring-admin' }), jwtAgent)).status).toBe(303);
  });

  it('slows down guessing: after 20 failed logins a minute, 429', async () => {
    let last = 0;
    for (let i = 0; i < 22; i++) last = (await login(`guess-${i}-xxxxxxxxxxxx`)).status;
    expect(last).toBe(429);
  });

  it('refuses a short admin token at start', async () => {
    await expect(createAgent({ id: 'weak', membership: new MemoryMembership(), adminToken: 'short' })).rejects.toThrow(/at least 16 characters/);
    await expect(createAgent({ id: 'weak', membership: new MemoryMembership(), adminJwt: {} })).rejects.toThrow(/adminJwt needs/);
  });
});

describe('wsring-agent --admin-token, --admin-role', () => {
  const bin = fileURLToPath(new URL('../bin/wsring-agent.js', import.meta.url));
  const run = (args: string[]) => spawnSync(process.execPath, [bin, '--id', 'x', '--host', '127.0.0.1', ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 20_000 });

  it('refuses a short token and a role without a key to verify it, in one line, exit 2', () => {
    const short = run(['--admin-token', 'short']);
    expect([short.status, short.stderr]).toEqual([2, 'wsring-agent: --admin-token must be at least 16 characters (use 32+ random ones)\n']);
    const role = run(['--admin-role', 'ops']);
    expect([role.status, role.stderr]).toEqual([2, 'wsring-agent: --admin-role needs --jwt-secret or --jwks-url to verify admin JWTs with\n']);
  });

  it('lists both in --help', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toContain('--admin-token <secret>');
    expect(help).toContain('--admin-role <role>');
  });
});

describe('the feed lets go of a page that leaves', () => {
  it('removes the viewer when the connection closes', async () => {
    const { createServer } = await import('node:http');
    const { createFleetHandler } = await import('../src/fleet-page/routes.js');
    const { AdminAccess } = await import('../src/fleet-page/access.js');
    let open = 0;
    const sent: string[] = [];
    const backend = {
      snapshot: () => Promise.reject(new Error('unused')),
      preview: () => Promise.reject(new Error('unused')),
      addViewer(v: { send(e: string, d: string): boolean }) {
        open++;
        v.send('fleet', '{}');
        sent.push('fleet');
        return () => void open--;
      },
    };
    const handler = createFleetHandler(backend, { prefix: '', access: AdminAccess.from({ adminToken: 'x'.repeat(16) })! });
    const server = createServer((req, res) => void (handler(req, res) || res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const res = await fetch(`http://127.0.0.1:${port}/fleet/events`, { headers: { authorization: `Bearer ${'x'.repeat(16)}` } });
      await readEvents(res, (e) => e.length >= 1);
      await until(() => open === 0, 5_000, 'the viewer to be removed');
      expect(sent).toEqual(['fleet']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
