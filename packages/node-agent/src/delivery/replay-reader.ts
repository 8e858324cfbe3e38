import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type JetStreamManager, type MsgRequest, type NextMsgRequest } from '@nats-io/jetstream';
import { Entry } from './entry.js';

/** Reads a user's stored messages for a replay. One reader per node; any number of reads at once. */
export interface ReplayReader {
  /**
   * Every message stored on `subject` after position `after`, in order, up to the stream's end as the read goes.
   * `end`: the stream's last sequence when the replay began, if known (helps choose how to read). Stop early by
   * leaving the loop.
   */
  read(subject: string, after: number, end?: number): AsyncIterable<Entry>;
}

export interface ReplayReaderOptions {
  stream: string;
  /** Messages per pull from the replay consumer. */
  batch: number;
  /** How long one pull or get may take before the replay fails (and its caller retries). */
  timeoutMs: number;
  /** Messages read one get each before a consumer is made: most replays are a few messages, where a get is cheaper. */
  directReads?: number;
}

/** Counters: how replays were read. */
export interface ReplayReadStats {
  gets: number;
  consumers: number;
  pulls: number;
  /** Consumers that failed (or were refused) and left the rest of their replay to gets. */
  fallbacks: number;
  /** Replays read through an unfiltered consumer (the user's messages were dense in the range). */
  dense: number;
  /** Replays left to gets because the user's messages were sparse and the server reads filtered consumers slowly. */
  sparse: number;
}

/** The stream sequence a consumer delivery names in its reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...` (9 tokens), or with domain and account hash (12 or more). */
export function streamSeqOfReply(reply: string | undefined): number | undefined {
  if (!reply) return undefined;
  const t = reply.split('.');
  const seq = Number(t.length === 9 ? t[5] : t.length >= 12 ? t[7] : NaN);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

const DEFAULT_DIRECT_READS = 8;
/** At most this many stream messages per message of the user in the range: an unfiltered consumer reads them all faster than a filtered one. */
const DENSE_FACTOR = 16;
const UNFILTERED_BATCH_FACTOR = 16;

/** nats-server before 2.10 recounts a filtered consumer's pending messages within a block for every message it delivers, so a filtered read is slower than a get per message. */
function filteredReadsAreSlow(version: string | undefined): boolean {
  const [major, minor] = (version ?? '0.0').split('.').map(Number);
  return major < 2 || (major === 2 && minor < 10);
}

/**
 * Replay reads in two speeds. The first few messages come one get each (`next_by_subj`, served by the stream
 * leader); a longer backlog is read in batches through an ephemeral pull consumer (nats-server 2.9 has no
 * batched direct get). When the messages read by get were dense in the stream (at least one in DENSE_FACTOR
 * stream messages), an unfiltered consumer over the range is read and the user's messages picked out here
 * (nats-server 2.9 delivers unfiltered messages far faster than filtered ones). When they were sparse, a server
 * before 2.10 is read by gets (making a filtered consumer there costs a scan of the stream per consumer, and under
 * many concurrent replays those scans hold up every JetStream API request), a newer one through a consumer
 * filtered to the user's subject. Whatever a consumer leaves (its end is only trusted once
 * a get finds nothing after it) or cannot do (it failed, or the server refused it) is read by gets, so a
 * consumer only ever makes a replay faster, never incomplete.
 */
export class BatchedReplayReader implements ReplayReader {
  readonly stats: ReplayReadStats = { gets: 0, consumers: 0, pulls: 0, fallbacks: 0, dense: 0, sparse: 0 };
  private readonly directReads: number;

  constructor(private readonly nc: NatsConnection, private readonly jsm: JetStreamManager, private readonly o: ReplayReaderOptions) {
    this.directReads = o.directReads ?? DEFAULT_DIRECT_READS;
  }

  async *read(subject: string, after: number, end?: number): AsyncGenerator<Entry> {
    let pos = after;
    // A batch of one: one get per message, no consumer.
    const directReads = this.o.batch === 1 ? Infinity : this.directReads;
    for (let i = 0; i < directReads; i++) {
      const e = await this.get(subject, pos);
      if (!e) return;
      yield e;
      pos = e.pos;
    }
    try {
      // The spacing of the messages read so far tells whether the user's messages are dense in the stream here.
      const dense = end !== undefined && (pos - after) <= directReads * DENSE_FACTOR;
      // A pull's messages at a time: one asynchronous step per pull, not per message.
      for await (const entries of this.batches(subject, pos, end, dense)) {
        for (const e of entries) {
          yield e;
          pos = e.pos;
        }
      }
    } catch {
      this.stats.fallbacks++;
    }
    for (;;) {
      const e = await this.get(subject, pos);
      if (!e) return;
      yield e;
      pos = e.pos;
    }
  }

  /** The first message on `subject` after `pos`. */
  private async get(subject: string, pos: number): Promise<Entry | undefined> {
    this.stats.gets++;
    const next: NextMsgRequest = { seq: pos + 1, next_by_subj: subject };
    const m = await this.jsm.streams.getMessage(this.o.stream, next as unknown as MsgRequest);
    return m ? Entry.of(m.seq, m.header, m.data) : undefined;
  }

  /** An ephemeral consumer from `pos + 1`, filtered to `subject` if given. */
  private async addConsumer(subject: string | undefined, pos: number) {
    const info = await this.jsm.consumers.add(this.o.stream, {
      ...(subject === undefined ? {} : { filter_subject: subject }),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: pos + 1,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      // Removed by the server if this node goes away mid-replay.
      inactive_threshold: nanos(Math.max(5_000, this.o.timeoutMs * 2)),
    });
    this.stats.consumers++;
    return info;
  }

  /**
   * Batches from an ephemeral consumer starting after `pos`, until a pull comes back short (or, unfiltered, passes
   * `end`). `dense`: the user's messages read so far were at least one in DENSE_FACTOR of the stream's.
   */
  private async *batches(subject: string, pos: number, end: number | undefined, dense: boolean): AsyncGenerator<Entry[]> {
    if (!dense && filteredReadsAreSlow(this.nc.info?.version)) {
      this.stats.sparse++;
      return;
    }
    if (dense) this.stats.dense++;
    const info = await this.addConsumer(dense ? undefined : subject, pos);
    try {
      const puller = new Puller(this.nc, `$JS.API.CONSUMER.MSG.NEXT.${this.o.stream}.${info.name}`, this.o.timeoutMs, dense ? subject : undefined);
      try {
        // Unfiltered, most of a pull is other users' messages, dropped on arrival: larger pulls, fewer round trips.
        const size = dense ? this.o.batch * UNFILTERED_BATCH_FACTOR : this.o.batch;
        this.stats.pulls++;
        let next = puller.pull(size);
        for (;;) {
          const { entries, more, last } = await next;
          // Unfiltered, the stream beyond the replay's end is left to the gets that follow (usually nothing).
          const done = !more || (dense && end !== undefined && last >= end);
          if (!done) {
            // The next pull is on its way while this one's messages go to the client (one pull ahead at most).
            this.stats.pulls++;
            next = puller.pull(size);
            // Left unawaited if the caller stops early: failures then matter to nobody.
            next.catch(() => {});
          }
          if (entries.length > 0) yield entries;
          if (done) return;
        }
      } finally {
        puller.close();
      }
    } finally {
      this.jsm.consumers.delete(this.o.stream, info.name).catch(() => {});
    }
  }
}

interface Pulled {
  entries: Entry[];
  /** The pull was answered in full: the consumer may have more. */
  more: boolean;
  /** The last stream sequence delivered (of any subject). */
  last: number;
}

/** One consumer's pulls over one inbox: `no_wait` pulls, so a pull ends with a full batch or a status at the end. */
class Puller {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private current: { entries: Entry[]; got: number; last: number; want: number; resolve(r: Pulled): void; reject(err: Error): void } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `only`: keep the messages of this subject (an unfiltered consumer delivers every subject). */
  constructor(private readonly nc: NatsConnection, private readonly subject: string, private readonly timeoutMs: number, private readonly only?: string) {
    this.sub = nc.subscribe(this.inbox, {
      callback: (err, msg) => {
        if (!err) this.onMsg(msg);
      },
    });
  }

  pull(batch: number): Promise<Pulled> {
    return new Promise((resolve, reject) => {
      this.current = { entries: [], got: 0, last: 0, want: batch, resolve, reject };
      this.timer = setTimeout(() => this.end(new Error('replay pull timed out')), this.timeoutMs);
      this.nc.publish(this.subject, JSON.stringify({ batch, no_wait: true }), { reply: this.inbox });
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.sub.unsubscribe();
  }

  private onMsg(msg: Msg): void {
    const c = this.current;
    if (!c) return;
    // Stored messages keep their own subject; the server's status answers come on the inbox itself.
    if (msg.subject === this.inbox) {
      const code = msg.headers?.code ?? 0;
      // 404 no messages / 408 request expired: the consumer has nothing more now. Anything else is a failure.
      if (code === 404 || code === 408) this.end({ entries: c.entries, more: false, last: c.last });
      else if (code !== 100) this.end(new Error(`replay pull answered ${code} ${msg.headers?.description ?? ''}`));
      return;
    }
    const pos = streamSeqOfReply(msg.reply);
    if (pos === undefined) return;
    c.got++;
    c.last = pos;
    // Other users' messages (an unfiltered read) are counted, not decoded.
    if (this.only === undefined || msg.subject === this.only) c.entries.push(Entry.of(pos, msg.headers, msg.data));
    if (c.got >= c.want) this.end({ entries: c.entries, more: true, last: c.last });
  }

  private end(result: Pulled | Error): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    clearTimeout(this.timer);
    if (result instanceof Error) c.reject(result);
    else c.resolve(result);
  }
}
