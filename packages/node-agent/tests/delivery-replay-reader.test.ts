// The replay reader against a real nats-server: whatever the batch size, the number of gets before the consumer,
// and the position a replay starts from, it yields exactly the user's stored messages after that position, in
// order; when the server refuses the consumer, gets read the rest.
import fc from 'fast-check';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedReplayReader, streamSeqOfReply } from '../src/delivery/replay-reader.js';
import type { Entry } from '../src/delivery/entry.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';

const USERS = ['a', 'b', 'c'];
/** A user with one message in 30: sparse, read by gets on nats-server 2.9, through a filtered consumer on newer ones. */
const RARE = 'rare';

type Read = { pos: number; prev: number | undefined; data: unknown };

/** What the reader yields, each entry's pre-encoded frame checked against the frame of its decoded data. */
async function readAll(reader: BatchedReplayReader, subject: string, after: number, end?: number): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of reader.read(subject, after, end)) {
    const frame = e.prev === undefined ? { type: 'message', data: e.data, pos: e.pos } : { type: 'message', data: e.data, pos: e.pos, prev: e.prev };
    expect(JSON.parse(e.frame().toString('utf8'))).toEqual(frame);
    out.push({ pos: e.pos, prev: e.prev, data: e.data });
  }
  return out;
}

describe('batched replay reader', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  /** Every stored message: [user, seq, prev]. */
  const stored: { user: string; seq: number; prev: number; n: number }[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'REPLAY', subjects: ['replay.>'] });
    await jsm.streams.add({ name: 'ONE_CONSUMER', subjects: ['one.>'], max_consumers: 1 });
    const js = jetstream(nc);
    // Interleaved users, with runs of one user, so batches cross other users' messages.
    const order = fc.sample(fc.array(fc.constantFrom(...USERS), { minLength: 300, maxLength: 300 }), { numRuns: 1, seed: 16 })[0];
    const last = new Map<string, number>();
    for (const [n, user] of order.flatMap((u, i) => (i % 30 === 0 ? [RARE, u] : [u])).entries()) {
      const h = headers();
      h.set('Wsring-Prev', String(last.get(user) ?? 0));
      const ack = await js.publish(`replay.${user}`, JSON.stringify({ n }), { headers: h });
      await js.publish(`one.${user}`, JSON.stringify({ n }), { headers: h });
      stored.push({ user, seq: ack.seq, prev: last.get(user) ?? 0, n });
      last.set(user, ack.seq);
    }
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('yields exactly the stored messages after any position, in order, for any batch size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...USERS, RARE), fc.integer({ min: 0, max: 320 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 10 }), async (user, after, batch, directReads) => {
        const reader = new BatchedReplayReader(nc, jsm, { stream: 'REPLAY', batch, timeoutMs: 5_000, directReads });
        const end = (await jsm.streams.info('REPLAY')).state.last_seq;
        const got = await readAll(reader, `replay.${user}`, after, end);
        const want = stored.filter((m) => m.user === user && m.seq > after);
        expect(got).toEqual(want.map((m) => ({ pos: m.seq, prev: m.prev, data: { n: m.n } })));
        expect(reader.stats.fallbacks).toBe(0);
        // A batch of one reads by gets only.
        if (batch === 1) expect(reader.stats.consumers).toBe(0);
        else if (want.length > directReads) {
          // Dense users are read through an unfiltered consumer; the rare one (judged by the spacing of its first gets) is not.
          expect(reader.stats.dense + reader.stats.sparse).toBe(1);
          if (user === RARE && directReads > 0) expect(reader.stats.dense).toBe(0);
          if (user !== RARE && directReads > 0 && after === 0) expect(reader.stats.dense).toBe(1);
        }
      }),
      { numRuns: 25, seed: 1616 },
    );
    // Every consumer a replay made is gone afterwards.
    expect((await jsm.streams.info('REPLAY')).state.consumer_count).toBe(0);
  });

  it('stops early when the caller leaves the loop, and removes its consumer', async () => {
    const reader = new BatchedReplayReader(nc, jsm, { stream: 'REPLAY', batch: 5, timeoutMs: 5_000, directReads: 1 });
    let seen = 0;
    for await (const e of reader.read('replay.a', 0, stored.length)) {
      expect(e.pos).toBeGreaterThan(0);
      if (++seen === 12) break;
    }
    expect(reader.stats.pulls).toBeLessThanOrEqual(3);
    const consumers = async () => (await jsm.streams.info('REPLAY')).state.consumer_count;
    for (let i = 0; i < 50 && (await consumers()) > 0; i++) await nc.flush();
    expect(await consumers()).toBe(0);
  });

  it('reads the rest with gets when the server refuses the consumer', async () => {
    // The stream allows one consumer, and it is taken.
    await jsm.consumers.add('ONE_CONSUMER', { durable_name: 'taken', ack_policy: 'none' as never });
    const reader = new BatchedReplayReader(nc, jsm, { stream: 'ONE_CONSUMER', batch: 10, timeoutMs: 5_000, directReads: 2 });
    const got = await readAll(reader, 'one.b', 0, (await jsm.streams.info('ONE_CONSUMER')).state.last_seq);
    expect(got.map((e) => (e.data as { n: number }).n)).toEqual(stored.filter((m) => m.user === 'b').map((m) => m.n));
    expect(reader.stats).toMatchObject({ consumers: 0, fallbacks: 1 });
  });

  it('reads the stream sequence from both reply subject forms', () => {
    expect(streamSeqOfReply('$JS.ACK.S.C.1.42.7.1700000000.3')).toBe(42);
    expect(streamSeqOfReply('$JS.ACK.dom.acchash.S.C.1.42.7.1700000000.3.tok')).toBe(42);
    expect(streamSeqOfReply('_INBOX.x')).toBeUndefined();
    expect(streamSeqOfReply(undefined)).toBeUndefined();
  });
});
