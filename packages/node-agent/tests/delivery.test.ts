// Delivery against a real nats-server: the publisher's per-user chain under concurrency, typed errors, and an
// in-process agent replaying, deduplicating, repairing the live path and reporting losses to raw sockets.
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { ServerFrame } from '@wsring/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createPublisher, DeliveryError, subjectOf, userOfToken, userToken, type Agent, type Publisher } from '../src/mod.js';
import { LiveFeed } from '../src/delivery/feed.js';
import { StreamPublisher } from '../src/delivery/publisher.js';
import { resolveDeliveryOptions } from '../src/delivery/options.js';
import { spawnAgent, startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, hold, lossyLive, openClient, until, type RawClient } from './helpers.js';

const STREAM = 'WSRING_DELIVERY';

/** Every stored message of one user, in stream order: [pos, prev]. */
async function chainOf(jsm: JetStreamManager, userId: string, stream = STREAM): Promise<{ pos: number; prev: number; data: unknown }[]> {
  const out: { pos: number; prev: number; data: unknown }[] = [];
  for (let seq = 1; ; ) {
    const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: subjectOf('wsring.user', userId) } as never);
    if (!m) return out;
    out.push({ pos: m.seq, prev: Number(m.header.get('Wsring-Prev')), data: m.json() });
    seq = m.seq + 1;
  }
}

const messages = (c: RawClient) => c.frames.filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message');
const synced = (c: RawClient, n = 1) => c.frame((f) => f.type === 'synced' && c.frames.filter((g) => g.type === 'synced').length >= n);

describe('publisher against a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('maps any user id to one subject-safe token and back', () => {
    for (const id of ['alice', 'a.b.c', 'with space', '*', '>', 'ünï😀', 'x'.repeat(256)]) {
      const token = userToken(id);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(userOfToken(token)).toBe(id);
    }
  });

  it('keeps one exact chain per user while two publishers write to the same user at once', async () => {
    const a = await createPublisher({ nats: nc });
    const b = await createPublisher({ nats: nc });
    const user = 'contended.user';
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) sends.push(a.publish(user, { from: 'a', i }), b.publish(user, { from: 'b', i }));
    const results = await Promise.all(sends);
    const chain = await chainOf(jsm, user);
    expect(chain).toHaveLength(100);
    // Every stored message names its predecessor on the subject exactly; the first names none.
    chain.forEach((m, i) => expect(m.prev).toBe(i === 0 ? 0 : chain[i - 1].pos));
    // Each publisher's own messages are stored in the order it published them.
    for (const from of ['a', 'b']) expect(chain.filter((m) => (m.data as { from: string }).from === from).map((m) => (m.data as { i: number }).i)).toEqual([...Array(50).keys()]);
    expect(results.map((r) => (r as { pos: number }).pos).sort((x, y) => x - y)).toEqual(chain.map((m) => m.pos));
    // The two caches went stale against each other, so the wrong-last-sequence path ran.
    expect((a as StreamPublisher).stats.retries + (b as StreamPublisher).stats.retries).toBeGreaterThan(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses bad input with typed errors and makes a retry with the same id idempotent', async () => {
    const p = await createPublisher({ nats: nc, maxMessageBytes: 1024 });
    await expect(p.publish('', 1)).rejects.toMatchObject({ name: 'DeliveryError', code: 'BAD_USER' });
    await expect(p.publish('x'.repeat(257), 1)).rejects.toMatchObject({ code: 'BAD_USER' });
    await expect(p.publish(42 as unknown as string, 1)).rejects.toMatchObject({ code: 'BAD_USER' });
    await expect(p.publish('u', undefined)).rejects.toMatchObject({ code: 'BAD_DATA' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(p.publish('u', cyclic)).rejects.toMatchObject({ code: 'BAD_DATA' });
    await expect(p.publish('u', 'x'.repeat(2000))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    const first = await p.publish('idem', { n: 1 }, { id: 'idem-1' });
    const again = await p.publish('idem', { n: 1 }, { id: 'idem-1' });
    expect(again).toEqual({ pos: first.pos, prev: undefined, duplicate: true });
    expect(await chainOf(jsm, 'idem')).toHaveLength(1);
    await p.close();
    await expect(p.publish('u', 1)).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => resolveDeliveryOptions({ maxAgeMs: 10 })).toThrow(DeliveryError);
    expect(() => resolveDeliveryOptions({ livePrefix: 'wsring.user.live' })).toThrow(/outside/);
  });

  it('wsring-agent --no-delivery runs without a stream, and with delivery flags sets its window', async () => {
    const own = await startNatsServer();
    const agents = [];
    try {
      agents.push(await spawnAgent({ id: 'plain', nats: own.url, noDelivery: true }));
      const ownNc = await connect({ servers: own.url });
      const ownJsm = await jetstreamManager(ownNc);
      await expect(ownJsm.streams.info(STREAM)).rejects.toMatchObject({ code: 10059 });
      expect(await (await fetch(`${agents[0].httpUrl}/metrics`)).text()).not.toContain('wsring_delivery');
      agents.push(await spawnAgent({ id: 'windowed', nats: own.url, deliveryMaxAgeMs: 60_000, deliveryMaxBytes: 1_000_000 }));
      const info = await ownJsm.streams.info(STREAM);
      expect([info.config.max_age, info.config.max_bytes]).toEqual([60_000 * 1e6, 1_000_000]);
      await ownNc.close();
    } finally {
      await Promise.all(agents.map((a) => a.kill()));
      await own.stop();
    }
  });

  it('fails with STORE_UNAVAILABLE while NATS is down, and publishes again once it is back', async () => {
    const own = await startNatsServer();
    const p = await createPublisher({ nats: { servers: own.url }, publishTimeoutMs: 500 });
    try {
      await p.publish('down', { n: 0 });
      await own.kill();
      await expect(p.publish('down', { n: 1 })).rejects.toMatchObject({ name: 'DeliveryError', code: 'STORE_UNAVAILABLE' });
      await own.restart();
      await until(async () => (await p.publish('down', { n: 2 }).then(() => true, () => false)), 15_000, 'publish after restart');
    } finally {
      await p.close();
      await own.stop();
    }
  });
});

describe('an agent delivering to raw sockets', () => {
  let nats: NatsServer;
  let agent: Agent;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: Publisher;
  const clients: RawClient[] = [];
  const open = (user: string, last?: number) => {
    const c = openClient(agent.url, { user, last });
    clients.push(c);
    return c;
  };
  const openSynced = async (user: string, last?: number) => {
    const c = open(user, last);
    await synced(c);
    return c;
  };
  /** A client that saw one message, then went away: the position it would resume from. */
  const seeOneMessageAndLeave = async (user: string): Promise<number> => {
    const c = await openSynced(user);
    await publisher.publish(user, { n: 0 });
    await until(() => messages(c).length === 1, 10_000, 'first message');
    const last = messages(c)[0].pos!;
    c.ws.close();
    await c.closed;
    return last;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    agent = await createAgent({ id: 'solo', nats: { servers: nats.url }, ...FAST, delivery: { maxAgeMs: 1_500 } });
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    publisher = await createPublisher({ nats: nc });
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await agent?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('sends a fresh client its position, then live messages with pos and prev', async () => {
    const c = open('fresh');
    const s = await synced(c);
    const published = [];
    for (let n = 0; n < 5; n++) published.push(await agent.publish('fresh', { n }));
    await until(() => messages(c).length === 5, 10_000, 'five live messages');
    expect(messages(c).map((m) => [m.data, m.pos, m.prev])).toEqual(published.map((p, n) => [{ n }, p.pos, p.prev]));
    expect(messages(c)[0].pos).toBeGreaterThan((s as { pos: number }).pos);
  });

  it('replays exactly what a reconnecting client missed, in order, then continues live without duplicates', async () => {
    const user = 'returning';
    const last = await seeOneMessageAndLeave(user);
    for (let n = 1; n <= 20; n++) await publisher.publish(user, { n });
    const c2 = await openSynced(user, last);
    for (let n = 21; n <= 25; n++) await publisher.publish(user, { n });
    await until(() => messages(c2).length === 25, 10_000, 'replayed and live messages');
    expect(messages(c2).map((m) => (m.data as { n: number }).n)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // The chain is exact from the client's last position on.
    const frames = messages(c2);
    frames.forEach((m, i) => expect(m.prev).toBe(i === 0 ? last : frames[i - 1].pos));
  });

  it('answers a resume frame with a replay after the given position', async () => {
    const user = 'resumer';
    // Stored before the (fresh) connection: never part of its replays.
    await publisher.publish(user, { n: -2 });
    await publisher.publish(user, { n: -1 });
    const c = await openSynced(user);
    for (let n = 0; n < 4; n++) await publisher.publish(user, { n });
    await until(() => messages(c).length === 4, 10_000, 'four messages');
    c.send(JSON.stringify({ type: 'resume', last: messages(c)[1].pos }));
    await synced(c, 2);
    expect(messages(c).map((m) => (m.data as { n: number }).n)).toEqual([0, 1, 2, 3, 2, 3]);
    // Not before where the connection started: asking for the whole window replays only this connection's share.
    c.send(JSON.stringify({ type: 'resume', last: 0 }));
    await synced(c, 3);
    expect(messages(c).map((m) => (m.data as { n: number }).n)).toEqual([0, 1, 2, 3, 2, 3, 0, 1, 2, 3]);
    c.send(JSON.stringify({ type: 'resume', last: -1 }));
    expect((await c.closed).code).toBe(4400);
  });

  it('gives a fresh client what was published right after its welcome, though stored before its first read', async () => {
    // The app publishes on the client's `open`: these reach the store before the node has read where the stream
    // ends for the new connection, but after its live subscription. They are the client's, not history.
    const feed = new LiveFeed(nc, jsm, resolveDeliveryOptions(), { info() {}, warn() {}, error() {}, debug() {} });
    const frames: ServerFrame[] = [];
    const target = { userId: 'opened', sendFrame: (f: ServerFrame) => frames.push(f) > 0 };
    await publisher.publish('opened', { n: -1 }); // history: stored before the connection
    feed.attach(target, undefined);
    const sent = [0, 1, 2].map((n) => publisher.publish('opened', { n }));
    await Promise.all(sent);
    await until(() => frames.some((f) => f.type === 'synced'), 10_000, 'synced');
    await until(() => frames.filter((f) => f.type === 'message').length >= 3, 10_000, 'the three messages');
    expect(frames.filter((f) => f.type === 'message').map((f) => (f as { data: { n: number } }).data.n)).toEqual([0, 1, 2]);
    feed.close();
  });

  it('repairs a live message lost on the way: the next one names it and the node replays it first', async () => {
    // The feed runs on a real connection whose live subscriptions drop messages on demand.
    let dropNext = false;
    const lossy = lossyLive(nc, () => {
      if (!dropNext) return false;
      dropNext = false;
      return true;
    });
    const feed = new LiveFeed(nc, jsm, resolveDeliveryOptions(), { info() {}, warn() {}, error() {}, debug() {} }, { live: lossy });
    expect(feed.lightSubscriptions).toBe(true);
    const frames: ServerFrame[] = [];
    const target = { userId: 'repair', sendFrame: (f: ServerFrame) => frames.push(f) > 0 };
    feed.attach(target, undefined);
    await until(() => frames.some((f) => f.type === 'synced'), 10_000, 'synced');
    await publisher.publish('repair', { n: 0 });
    await until(() => frames.length === 2, 10_000, 'first message');
    dropNext = true;
    await publisher.publish('repair', { n: 1 });
    await until(() => !dropNext, 10_000, 'the live copy to be dropped');
    await publisher.publish('repair', { n: 2 });
    await until(() => frames.filter((f) => f.type === 'message').length === 3, 10_000, 'three messages');
    expect(frames.filter((f) => f.type === 'message').map((f) => (f as { data: { n: number } }).data.n)).toEqual([0, 1, 2]);
    expect(feed.stats.repairs).toBe(1);
    feed.close();
  });

  it('reports what fell out of the retention window, then continues', async () => {
    const user = 'away';
    const last = await seeOneMessageAndLeave(user);
    const lost = [await publisher.publish(user, { n: 1 }), await publisher.publish(user, { n: 2 })];
    // Longer than the 1.5 s window: both are gone from the store.
    await until(async () => (await chainOf(jsm, user)).length === 0, 10_000, 'messages to expire');
    const kept = await publisher.publish(user, { n: 3 });
    expect(kept.prev).toBe(0);
    const c2 = await openSynced(user, last);
    const gap = c2.frames.find((f) => f.type === 'gap');
    // The whole history expired, so the chain restarted: the node reports the window's edge as possibly lost.
    expect(gap).toMatchObject({ type: 'gap', from: last + 1, certain: false });
    expect((gap as { to: number }).to).toBeGreaterThanOrEqual(lost[1].pos);
    expect((gap as { to: number }).to).toBeLessThan(kept.pos);
    expect(messages(c2).map((m) => m.data)).toEqual([{ n: 3 }]);
    expect(c2.frames.indexOf(gap!)).toBeLessThan(c2.frames.indexOf(messages(c2)[0]));
  });

  it('names the lost range exactly when a surviving message names a lost predecessor', async () => {
    const user = 'away-certain';
    const last = await seeOneMessageAndLeave(user);
    // Publish until the oldest missed messages have expired while newer ones still stand.
    const sent: { pos: number; prev: number | undefined; n: number }[] = [];
    for (let n = 1; ; n++) {
      sent.push({ ...(await publisher.publish(user, { n })), n });
      const stored = await chainOf(jsm, user);
      if (stored.length > 0 && stored[0].pos > sent[0].pos) break;
      // One message every 100 ms, so the window always holds some while the oldest expire.
      await hold(100);
    }
    const c2 = await openSynced(user, last);
    const gaps = c2.frames.filter((f) => f.type === 'gap');
    const got = messages(c2);
    // Certain: the first surviving message names its lost predecessor, and the report names exactly that.
    expect(gaps[0]).toEqual({ type: 'gap', from: last + 1, to: got[0].prev, certain: true });
    expect(got[0].prev).toBeGreaterThanOrEqual(sent[0].pos);
    // What survived arrives in order, ending with the last message sent; every hole in it was reported.
    expect(got.at(-1)!.pos).toBe(sent.at(-1)!.pos);
    const reported = new Set(gaps.map((g) => (g as { to: number }).to));
    got.forEach((m, i) => {
      if (i > 0 && m.prev !== got[i - 1].pos) expect(reported.has(m.prev!)).toBe(true);
    });
    const ns = got.map((m) => (m.data as { n: number }).n);
    expect(ns).toEqual([...new Set(ns)].sort((a, b) => a - b));
  });

  it('keeps an idle client inside the window with checkpoints, so a later reconnect reports no loss', async () => {
    const user = 'idle';
    const c1 = await openSynced(user);
    const own = await publisher.publish(user, { n: 0 });
    await publisher.publish('someone-else', { n: 0 });
    await until(() => messages(c1).length === 1, 10_000, 'the message');
    // Quiet for longer than the 1.5 s window: without checkpoints the client's position would fall behind it.
    await until(() => c1.frames.some((f) => f.type === 'checkpoint' && f.pos > own.pos), 10_000, 'a checkpoint past the message');
    await until(async () => !(await chainOf(jsm, user)).some((m) => m.pos === own.pos), 10_000, 'the message to fall out of the window');
    const last = Math.max(...c1.frames.map((f) => ('pos' in f && typeof f.pos === 'number' ? f.pos : 0)));
    c1.ws.close();
    await c1.closed;
    const c2 = await openSynced(user, last);
    expect(c2.frames.filter((f) => f.type === 'gap')).toEqual([]);
    // The same reconnect from the message's own position is reported: that is what the checkpoint avoided.
    const c3 = await openSynced(user, own.pos);
    expect(c3.frames.find((f) => f.type === 'gap')).toMatchObject({ from: own.pos + 1, certain: false });
  });

  it('keeps connected clients connected while NATS restarts, and delivers what was published around it', async () => {
    const user = 'through-restart';
    const c = await openSynced(user);
    await publisher.publish(user, { n: 0 });
    await until(() => messages(c).length === 1, 10_000, 'first message');
    await nats.restart();
    await until(async () => (await publisher.publish(user, { n: 1 }).then(() => true, () => false)), 20_000, 'publish after restart');
    await publisher.publish(user, { n: 2 });
    await until(() => messages(c).length === 3, 20_000, 'messages after the restart');
    expect(messages(c).map((m) => m.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('counts what it delivered on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').at(-1));
    expect(value('wsring_delivery_messages_total{path="live"')).toBeGreaterThan(0);
    expect(value('wsring_delivery_messages_total{path="replay"')).toBeGreaterThan(0);
    expect(value('wsring_delivery_gaps_total')).toBeGreaterThanOrEqual(2);
    expect(value('wsring_delivery_published_total')).toBeGreaterThanOrEqual(5);
  });

  it('publish without NATS fails with NO_STORE', async () => {
    const { MemoryMembership } = await import('../src/mod.js');
    const local = await createAgent({ id: 'local', membership: new MemoryMembership(), ...FAST });
    await expect(local.publish('u', 1)).rejects.toMatchObject({ name: 'DeliveryError', code: 'NO_STORE' });
    await local.close();
  });
});
