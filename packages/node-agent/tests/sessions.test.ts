// Sessions: the registry's bookkeeping (a property over random adds and removes), and delivery to several sessions
// of one user against a real nats-server: one live subscription per user, a position per session.
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createKeyIndex } from '@wsring/ring';
import type { ServerFrame } from '@wsring/protocol';
import type { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection, ConnectionRegistry } from '../src/connections.js';
import { LiveFeed } from '../src/delivery/feed.js';
import { resolveDeliveryOptions } from '../src/delivery/options.js';
import { ensureStream } from '../src/delivery/stream.js';
import { createAgent, createPublisher, type Agent, type Publisher } from '../src/mod.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, openClient, until, type RawClient } from './helpers.js';

const socket = { readyState: 1, OPEN: 1, send() {} } as unknown as WebSocket;

describe('ConnectionRegistry with sessions', () => {
  it('counts sessions and users, indexes users (not sessions), keeps at most the limit per user and displaces the oldest', async () => {
    const LIMIT = 3;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), user: fc.integer({ min: 0, max: 5 }), session: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const registry = new ConnectionRegistry(await createKeyIndex(undefined, { seed: 0 }));
        // The model: each user's sessions, oldest first.
        const model = new Map<string, ClientConnection[]>();
        const everAdded: ClientConnection[] = [];
        let fresh = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const user = `u${o.user}`;
            const sessionId = o.session === undefined ? `fresh-${fresh++}` : `s${o.session}`;
            const conn = new ClientConnection(user, socket, false, 0, sessionId);
            everAdded.push(conn);
            const list = [...(model.get(user) ?? [])];
            const same = list.findIndex((c) => c.sessionId === sessionId);
            const expectedSame = same >= 0 ? list.splice(same, 1)[0] : undefined;
            list.push(conn);
            const expectedOver = list.length > LIMIT ? list.splice(0, list.length - LIMIT) : [];
            model.set(user, list);
            const displaced = registry.add(conn, [], LIMIT);
            expect(displaced.sameSession).toBe(expectedSame);
            expect(displaced.overLimit).toEqual(expectedOver);
          } else if (everAdded.length > 0) {
            const conn = everAdded[o.pick % everAdded.length];
            const list = model.get(conn.userId) ?? [];
            const at = list.indexOf(conn);
            const expected = at < 0 ? false : list.length === 1 ? 'user-gone' : 'session-gone';
            if (at >= 0) list.splice(at, 1);
            if (list.length === 0) model.delete(conn.userId);
            expect(registry.remove(conn)).toBe(expected);
          }
          const sessions = [...model.values()].reduce((n, l) => n + l.length, 0);
          expect(registry.size).toBe(sessions);
          expect(registry.users).toBe(model.size);
          expect([...registry.index.keys()].sort()).toEqual([...model.keys()].sort());
          expect([...registry.all()].length).toBe(sessions);
          for (const [user, list] of model) {
            expect(registry.sessionsOf(user)).toEqual(list);
            expect(registry.get(user)).toBe(list.at(-1));
            expect(list.length).toBeLessThanOrEqual(LIMIT);
          }
        }
      }),
      { seed: 12, numRuns: 300 },
    );
  });
});

describe('delivery to several sessions of a user (real nats-server)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let publisher: Publisher;
  let agent: Agent;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    publisher = await createPublisher({ nats: nc });
    agent = await createAgent({ id: 'tabs', nats: { servers: nats.url }, ...FAST });
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await agent?.close();
    await publisher?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('one live subscription per user, shared by its sessions; each session keeps its own position', async () => {
    const o = resolveDeliveryOptions();
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, o, 'update', false);
    const feed = new LiveFeed(nc, jsm, o, { info() {}, warn() {}, error() {}, debug() {} });
    try {
      const tabs = [0, 1, 2].map(() => {
        const frames: ServerFrame[] = [];
        return { frames, target: { userId: 'shared', sendFrame: (f: ServerFrame) => frames.push(f) > 0 } };
      });
      for (const t of tabs) feed.attach(t.target, undefined);
      expect(feed.subscriptions).toBe(1);
      await until(() => tabs.every((t) => t.frames.some((f) => f.type === 'synced')), 10_000, 'every tab synced');
      for (let n = 0; n < 4; n++) await publisher.publish('shared', { n });
      const got = (t: (typeof tabs)[number]) => t.frames.filter((f) => f.type === 'message').map((f) => (f as { data: { n: number } }).data.n);
      await until(() => tabs.every((t) => got(t).length === 4), 10_000, 'four messages in every tab');
      for (const t of tabs) expect(got(t)).toEqual([0, 1, 2, 3]);
      feed.detach(tabs[0].target);
      feed.detach(tabs[1].target);
      expect(feed.subscriptions).toBe(1);
      feed.detach(tabs[2].target);
      expect(feed.subscriptions).toBe(0);
    } finally {
      feed.close();
    }
  });

  it('a reconnecting session replays only what it missed; the other session is untouched', async () => {
    const user = 'two-tabs';
    const open = (params: { last?: number; session?: string } = {}) => {
      const c = openClient(agent.url, { user, ...params });
      clients.push(c);
      return c;
    };
    const messages = (c: RawClient) => c.frames.filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message');
    const a = open();
    const b = open();
    await a.frame((f) => f.type === 'synced');
    await b.frame((f) => f.type === 'synced');
    for (let n = 0; n < 3; n++) await publisher.publish(user, { n });
    await until(() => messages(a).length === 3 && messages(b).length === 3, 10_000, 'three messages in each tab');
    const session = (a.frames.find((f) => f.type === 'welcome') as { session: string }).session;
    const last = messages(a)[2].pos!;
    a.ws.close();
    await a.closed;
    for (let n = 3; n < 5; n++) await publisher.publish(user, { n });
    await until(() => messages(b).length === 5, 10_000, 'five messages in the tab that stayed');
    const again = open({ last, session });
    expect(await again.frame((f) => f.type === 'welcome')).toMatchObject({ session });
    await until(() => messages(again).length === 2, 10_000, 'the two missed messages');
    await publisher.publish(user, { n: 5 });
    await until(() => messages(again).length === 3 && messages(b).length === 6, 10_000, 'the next live message in both');
    expect(messages(again).map((m) => (m.data as { n: number }).n)).toEqual([3, 4, 5]);
    expect(messages(b).map((m) => (m.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(agent.sessions(user)).toHaveLength(2);
  });
});
