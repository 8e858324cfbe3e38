// The light live subscriptions reach into nats.js internals (src/delivery/live-subscriptions.ts). This test is the
// tripwire: with the nats.js this package depends on, the light path must be taken, receive, unsubscribe (the
// server stops sending), and survive a reconnect (nats.js resubscribes it), or a nats.js upgrade broke the adapter.
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveSubscription, liveSubscriber } from '../src/delivery/live-subscriptions.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { until } from './helpers.js';

class Collect extends LiveSubscription {
  got: string[] = [];
  deliver(msg: Msg): void {
    this.got.push(msg.string());
  }
}

describe('light live subscriptions (nats.js internals adapter)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let pub: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
    nc = await connect({ servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    pub = await connect({ servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
  });

  afterAll(async () => {
    await nc?.close();
    await pub?.close();
    await nats?.stop();
  });

  it('takes the light path with this nats.js, receives, and stops receiving once closed', async () => {
    const live = liveSubscriber(nc);
    expect(live.light).toBe(true);
    const a = new Collect('live.a');
    const b = new Collect('live.b');
    live.open(a);
    live.open(b);
    expect(a.sid).toBeGreaterThan(0);
    expect(b.sid).not.toBe(a.sid);
    await nc.flush();
    for (const n of [1, 2, 3]) pub.publish('live.a', String(n));
    pub.publish('live.b', 'b1');
    await until(() => a.got.length === 3 && b.got.length === 1, 5_000, 'messages');
    expect(a.got).toEqual(['1', '2', '3']);
    expect(b.got).toEqual(['b1']);
    live.close(a);
    await nc.flush();
    pub.publish('live.a', '4');
    pub.publish('live.b', 'b2');
    // Published after '4' by the same connection: once b2 is here, '4' would have been too.
    await until(() => b.got.length === 2, 5_000, 'b2');
    expect(a.got).toEqual(['1', '2', '3']);
    // Closing twice, or after the connection closed, does nothing.
    live.close(a);
    live.close(b);
  });

  it('is resubscribed by nats.js after the server restarts', async () => {
    const live = liveSubscriber(nc);
    const c = new Collect('live.c');
    live.open(c);
    await nc.flush();
    pub.publish('live.c', 'before');
    await until(() => c.got.length === 1, 5_000, 'before');
    const reconnected = (conn: NatsConnection) =>
      (async () => {
        for await (const s of conn.status()) if (s.type === 'reconnect') return;
      })();
    const both = Promise.all([reconnected(nc), reconnected(pub)]);
    await nats.restart();
    await both;
    await until(async () => {
      try {
        pub.publish('live.c', 'after');
        await pub.flush();
        await nc.flush();
      } catch {
        return false; // a connection still settling after the restart
      }
      return c.got.includes('after');
    }, 10_000, 'a message after the restart');
    live.close(c);
  });

  it('falls back to the public API on a connection whose subscribe is wrapped', async () => {
    const wrapped = new Proxy(nc, {
      get: (target, key) => (key === 'subscribe' ? (...args: Parameters<NatsConnection['subscribe']>) => target.subscribe(...args) : Reflect.get(target, key)),
    });
    const live = liveSubscriber(wrapped);
    expect(live.light).toBe(false);
    const d = new Collect('live.d');
    const probe = new Collect('live.e');
    live.open(d);
    live.open(probe);
    await nc.flush();
    pub.publish('live.d', 'x');
    await until(() => d.got.length === 1, 5_000, 'x');
    live.close(d);
    await nc.flush();
    pub.publish('live.d', 'y');
    pub.publish('live.e', 'z');
    await until(() => probe.got.length === 1, 5_000, 'z');
    expect(d.got).toEqual(['x']);
    live.close(probe);
  });
});
