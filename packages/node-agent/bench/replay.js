// Replay benchmark: how fast a client that was away catches up a backlog of its user's messages.
//   reader: the replay read alone (BatchedReplayReader), one get per message (as replays read before) against
//           batches through a short-lived pull consumer, on one nats-server, same backlog, same run.
//   end to end: an agent (in this process) replays to a raw WebSocket client connecting with `last`; the time from
//           opening the socket to the `synced` frame, with the default batch and with one message per request
//           (replayBatch 1), each measured after one warm-up run of both.
//   concurrency: 64 clients coming back at once with a backlog each (the node's maxConcurrentReplays bound stays).
// Flags: --quick (2,000-message backlog), --backlog=N; --only=<other benchmark> skips this one.
import WebSocket from 'ws';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createAgent, createPublisher, subjectOf } from '@wsring/node-agent';
import { BatchedReplayReader } from '@wsring/node-agent/internal';
import { startNatsServer } from '@wsring/node-agent/testing';
import { connectUrl } from '@wsring/protocol';
import { fmtInt, fmtRatio, printTable } from './lib/rebalance-format.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const only = arg('only');
if (only !== undefined && only !== 'replay') process.exit(0);
const BACKLOG = Number(arg('backlog') ?? (quick ? 2_000 : 10_000));
const CONCURRENT = 64;
const PER_CONCURRENT = quick ? 100 : 500;
const USER = 'away';

const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {}, child() { return silent; } };
try {
  const publisher = await createPublisher({ nats: nc });
  // The backlog, interleaved with as many messages of other users (a stream is shared).
  const before = (await publisher.publish(USER, { n: -1 })).pos;
  const payload = { text: 'x'.repeat(100) };
  for (let i = 0; i < BACKLOG; i += 500) {
    const n = Math.min(500, BACKLOG - i);
    await Promise.all(Array.from({ length: n }, (_, k) => publisher.publish(USER, { n: i + k, ...payload })));
    await Promise.all(Array.from({ length: n }, (_, k) => publisher.publish(`other-${k % 50}`, { n: i + k, ...payload })));
  }
  const jsm = await jetstreamManager(nc);
  const subject = subjectOf('wsring.user', USER);
  const end = (await jsm.streams.info('WSRING_DELIVERY')).state.last_seq;

  /** Seconds to read the whole backlog with `reader`, and how many it read. */
  const timeRead = async (reader) => {
    const started = performance.now();
    let count = 0;
    for await (const e of reader.read(subject, before, end)) if (e.pos > before) count++;
    return { seconds: (performance.now() - started) / 1000, count, stats: reader.stats };
  };
  const perMessage = await timeRead(new BatchedReplayReader(nc, jsm, { stream: 'WSRING_DELIVERY', batch: 256, timeoutMs: 10_000, directReads: Infinity }));
  const batched = await timeRead(new BatchedReplayReader(nc, jsm, { stream: 'WSRING_DELIVERY', batch: 256, timeoutMs: 10_000 }));
  if (perMessage.count !== BACKLOG || batched.count !== BACKLOG) throw new Error(`read ${perMessage.count} / ${batched.count} of ${BACKLOG}`);

  /** An agent with `delivery` options replays the backlog to a raw client: seconds to `synced`. */
  const endToEnd = async (delivery, clients = [{ user: USER, last: before, expect: BACKLOG }]) => {
    const agent = await createAgent({ id: `replay-${Math.random().toString(36).slice(2)}`, nats: { servers: nats.url, bucket: `replay-${Math.random().toString(36).slice(2)}` }, host: '127.0.0.1', port: 0, delivery, logger: silent });
    try {
      const started = performance.now();
      const times = await Promise.all(
        clients.map(
          ({ user, last, expect }) =>
            new Promise((resolve, reject) => {
              const ws = new WebSocket(connectUrl(agent.url, { user, last }));
              let messages = 0;
              ws.on('message', (data) => {
                const f = JSON.parse(data.toString());
                if (f.type === 'message') messages++;
                if (f.type === 'synced') {
                  ws.terminate();
                  if (messages !== expect) reject(new Error(`${user}: ${messages} replayed, expected ${expect}`));
                  else resolve((performance.now() - started) / 1000);
                }
              });
              ws.on('error', reject);
            }),
        ),
      );
      return Math.max(...times);
    } finally {
      await agent.close();
    }
  };
  // Each path once to warm up, then measured: the first replay in this process also pays for compiling the
  // agent's code, which would otherwise fall on whichever path runs first.
  await endToEnd({});
  await endToEnd({ replayBatch: 1 });
  const e2eBatched = await endToEnd({});
  const e2eSingle = await endToEnd({ replayBatch: 1 });

  // 64 users, each with a backlog, all coming back at once.
  const returning = [];
  for (let u = 0; u < CONCURRENT; u++) {
    const user = `returning-${u}`;
    const last = (await publisher.publish(user, { n: -1 })).pos;
    returning.push({ user, last, expect: PER_CONCURRENT });
  }
  for (let i = 0; i < PER_CONCURRENT; i++) await Promise.all(returning.map(({ user }) => publisher.publish(user, { n: i, ...payload })));
  const concurrentBatched = await endToEnd({}, returning);
  const concurrentSingle = await endToEnd({ replayBatch: 1 }, returning);
  await publisher.close();

  const rate = (count, s) => `${fmtInt(count / s)} msg/s`;
  printTable(`Replay of a ${fmtInt(BACKLOG)}-message backlog (other users' messages interleaved; ratio = one get per message / batched)`, ['path', 'seconds', 'rate', 'requests', 'speed-up'], [
    ['read: one get per message (replays before)', perMessage.seconds.toFixed(2), rate(BACKLOG, perMessage.seconds), fmtInt(perMessage.stats.gets), '1.00x'],
    ['read: 8 gets, then an unfiltered consumer over the range', batched.seconds.toFixed(3), rate(BACKLOG, batched.seconds), `${batched.stats.gets} gets + ${batched.stats.consumers} consumers + ${batched.stats.pulls} pulls`, fmtRatio(perMessage.seconds / batched.seconds)],
    ['agent -> client, replayBatch 1 (one per request)', e2eSingle.toFixed(2), rate(BACKLOG, e2eSingle), '-', '1.00x'],
    ['agent -> client, default (batched)', e2eBatched.toFixed(3), rate(BACKLOG, e2eBatched), '-', fmtRatio(e2eSingle / e2eBatched)],
    [`${CONCURRENT} clients x ${PER_CONCURRENT} at once, replayBatch 1`, concurrentSingle.toFixed(2), rate(CONCURRENT * PER_CONCURRENT, concurrentSingle), '-', '1.00x'],
    [`${CONCURRENT} clients x ${PER_CONCURRENT} at once, default`, concurrentBatched.toFixed(3), rate(CONCURRENT * PER_CONCURRENT, concurrentBatched), '-', fmtRatio(concurrentSingle / concurrentBatched)],
  ]);
} finally {
  await nc.close();
  await nats.stop();
}
