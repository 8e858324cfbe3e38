// A publish whose acknowledgement was lost is sent again and stored exactly once: against a real nats-server
// behind a proxy that drops acknowledgements (and publishes), with another publisher writing to the same users.
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, subjectOf } from '../src/mod.js';
import type { StreamPublisher } from '../src/delivery/publisher.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { isPublishAnswer, startDroppingProxy, type DropRule } from './nats-dropping-proxy.js';
import { seededRandom } from '../../../test/support/seeded-random.js';

interface Stored {
  pos: number;
  prev: number;
  data: { from: string; i: number };
}

async function chainOf(jsm: JetStreamManager, stream: string, prefix: string, userId: string): Promise<Stored[]> {
  const out: Stored[] = [];
  for (let seq = 1; ; ) {
    const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: subjectOf(prefix, userId) } as never);
    if (!m) return out;
    out.push({ pos: m.seq, prev: Number(m.header.get('Wsring-Prev')), data: m.json() });
    seq = m.seq + 1;
  }
}


let run = 0;
/** Options of a fresh stream for one case, so cases do not see each other's messages. */
const fresh = () => {
  run++;
  return { stream: `ACKLOSS_${run}`, subjectPrefix: `ackloss${run}.user`, livePrefix: `ackloss${run}.live` };
};

describe('publisher retrying lost acknowledgements', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const target = () => ({ host: '127.0.0.1', port: nats.port });

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('stores a message once when its first acknowledgement is lost, and reports where', async () => {
    const o = fresh();
    let dropNext = false;
    const proxy = await startDroppingProxy(target(), (dir, _subject, payload) => {
      if (dir !== 'to-client' || !dropNext || !isPublishAnswer(payload)) return false;
      dropNext = false;
      return true;
    });
    const p = await createPublisher({ nats: { servers: proxy.url }, ...o, publishTimeoutMs: 300 });
    try {
      const first = await p.publish('u', { from: 'a', i: 0 });
      dropNext = true;
      const second = await p.publish('u', { from: 'a', i: 1 });
      expect(proxy.dropped['to-client']).toBe(1);
      expect((p as StreamPublisher).stats).toMatchObject({ ackRetries: 1, recovered: 1 });
      const chain = await chainOf(jsm, o.stream, o.subjectPrefix, 'u');
      expect(chain.map((m) => m.data.i)).toEqual([0, 1]);
      expect(second).toEqual({ pos: chain[1].pos, prev: first.pos, duplicate: false });
      // The next publish follows on from the recovered one.
      const third = await p.publish('u', { from: 'a', i: 2 });
      expect(third.prev).toBe(second.pos);
    } finally {
      await p.close();
      await proxy.close();
    }
  });

  it('stores a message once when the publish itself was lost, and when the caller gave an id', async () => {
    const o = fresh();
    let dropNextPublish = false;
    let dropNextAnswer = false;
    const proxy = await startDroppingProxy(target(), (dir, subject, payload) => {
      if (dir === 'to-server' && dropNextPublish && subject.startsWith(`${o.subjectPrefix}.`)) {
        dropNextPublish = false;
        return true;
      }
      if (dir === 'to-client' && dropNextAnswer && isPublishAnswer(payload)) {
        dropNextAnswer = false;
        return true;
      }
      return false;
    });
    const p = await createPublisher({ nats: { servers: proxy.url }, ...o, publishTimeoutMs: 300 });
    try {
      dropNextPublish = true;
      await p.publish('u', { from: 'a', i: 0 });
      expect((p as StreamPublisher).stats).toMatchObject({ ackRetries: 1, recovered: 0 });
      // With a caller's id JetStream's own duplicate check answers the resend.
      dropNextAnswer = true;
      const r = await p.publish('u', { from: 'a', i: 1 }, { id: 'msg-1' });
      expect(r.duplicate).toBe(false);
      expect((p as StreamPublisher).stats).toMatchObject({ ackRetries: 2, recovered: 1 });
      const chain = await chainOf(jsm, o.stream, o.subjectPrefix, 'u');
      expect(chain.map((m) => m.data.i)).toEqual([0, 1]);
      expect(r.pos).toBe(chain[1].pos);
    } finally {
      await p.close();
      await proxy.close();
    }
  });

  it('gives up with STORE_UNAVAILABLE after maxAckRetries resends, and the message is then stored at most once', async () => {
    const o = fresh();
    const proxy = await startDroppingProxy(target(), (dir, _subject, payload) => dir === 'to-client' && isPublishAnswer(payload));
    const p = await createPublisher({ nats: { servers: proxy.url }, ...o, publishTimeoutMs: 200, maxAckRetries: 2 });
    try {
      await expect(p.publish('u', { from: 'a', i: 0 })).rejects.toMatchObject({ name: 'DeliveryError', code: 'STORE_UNAVAILABLE' });
      expect(proxy.dropped['to-client']).toBe(3);
      expect((await chainOf(jsm, o.stream, o.subjectPrefix, 'u')).length).toBe(1);
    } finally {
      await p.close();
      await proxy.close();
    }
  });

  it('keeps every user\'s chain exact, each message once and in order: 20% of answers and 10% of publishes lost, another publisher racing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const o = fresh();
        const rand = seededRandom(seed);
        const drop: DropRule = (dir, subject, payload) => {
          if (dir === 'to-server') return subject.startsWith(`${o.subjectPrefix}.`) && rand() < 0.1;
          return isPublishAnswer(payload) && rand() < 0.2;
        };
        const proxy = await startDroppingProxy(target(), drop);
        const lossy = await createPublisher({ nats: { servers: proxy.url }, ...o, publishTimeoutMs: 250, maxAckRetries: 100, maxPublishAttempts: 200 });
        const direct = await createPublisher({ nats: nc, ...o, maxPublishAttempts: 200 });
        const users = Array.from({ length: 30 }, (_, u) => `user-${u}`);
        const A = 12;
        const B = 4;
        try {
          const resolved = new Map<string, number[]>();
          await Promise.all(
            users.flatMap((user) => [
              (async () => {
                const positions: number[] = [];
                // Published back to back: each call is queued behind the previous one of the same user.
                const calls = Array.from({ length: A }, (_, i) => lossy.publish(user, { from: 'a', i }));
                for (const r of await Promise.all(calls)) positions.push(r.pos);
                resolved.set(user, positions);
              })(),
              (async () => {
                for (let i = 0; i < B; i++) await direct.publish(user, { from: 'b', i });
              })(),
            ]),
          );
          expect(proxy.dropped['to-client'] + proxy.dropped['to-server']).toBeGreaterThan(0);
          for (const user of users) {
            const chain = await chainOf(jsm, o.stream, o.subjectPrefix, user);
            chain.forEach((m, k) => expect(m.prev).toBe(k === 0 ? 0 : chain[k - 1].pos));
            const of = (from: string) => chain.filter((m) => m.data.from === from);
            expect(of('a').map((m) => m.data.i)).toEqual([...Array(A).keys()]);
            expect(of('b').map((m) => m.data.i)).toEqual([...Array(B).keys()]);
            expect(resolved.get(user)).toEqual(of('a').map((m) => m.pos));
          }
          expect((lossy as StreamPublisher).stats.recovered).toBeGreaterThan(0);
        } finally {
          await Promise.all([lossy.close(), direct.close()]);
          await proxy.close();
        }
      }),
      { numRuns: 3, seed: 1616, endOnFailure: true },
    );
  }, 240_000);
});
