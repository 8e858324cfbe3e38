import { connect, headers, nuid, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstreamManager, type JetStreamManager, type MsgRequest, type NextMsgRequest } from '@nats-io/jetstream';
import { MAX_USER_ID_LENGTH, isValidUserId } from '@wsring/protocol';
import { AckInbox, AckLost, AckRefused, type PubAck } from './ack-inbox.js';
import { EXPECTED_LAST_HEADER, ID_HEADER, PREV_HEADER } from './entry.js';
import { DeliveryError } from './errors.js';
import { resolveDeliveryOptions, type DeliveryOptions, type ResolvedDeliveryOptions } from './options.js';
import { ensureStream } from './stream.js';
import { subjectOf } from './subjects.js';
import { redactUrls } from '../nats-auth.js';

/** What a publish stored. */
export interface Published {
  /** The message's position (stream sequence). */
  pos: number;
  /** The user's previous position (0: none stored); undefined when `duplicate`. */
  prev: number | undefined;
  /** JetStream had already stored a message with this `id`: nothing new was written. */
  duplicate: boolean;
}

export interface PublishOptions {
  /**
   * Idempotency key (JetStream's Nats-Msg-Id): a retry with the same id within the duplicate window
   * (2 minutes or the retention window, whichever is shorter) stores nothing new.
   */
  id?: string;
}

export interface Publisher {
  /** Store `data` (a JSON value) for `userId`; resolves once JetStream confirms it. Throws DeliveryError. */
  publish(userId: string, data: unknown, options?: PublishOptions): Promise<Published>;
  /** Release the connection if the publisher opened it. */
  close(): Promise<void>;
}

export interface PublisherOptions extends DeliveryOptions {
  /** A NATS connection to use, or the servers to connect to (the publisher then owns the connection). */
  nats: NatsConnection | { servers: string | string[]; connect?: Record<string, unknown> };
}

const WRONG_LAST_SEQUENCE = 10071;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encoder = new TextEncoder();

/** The sequence JetStream reports in "wrong last sequence: N". */
function reportedLast(message: string): number | undefined {
  const m = /wrong last sequence: (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}

export function encodeData(data: unknown, maxBytes: number): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new DeliveryError('BAD_DATA', 'data cannot be encoded as JSON', { cause: err });
  }
  if (text === undefined) throw new DeliveryError('BAD_DATA', 'data must be a JSON value, got undefined');
  const bytes = encoder.encode(text);
  if (bytes.length > maxBytes) throw new DeliveryError('TOO_LARGE', `message is ${bytes.length} bytes, the limit is ${maxBytes}`);
  return bytes;
}

export function checkUser(userId: unknown): asserts userId is string {
  // Well-formed only: an unpaired surrogate encodes as U+FFFD, which would share another user's subject.
  if (!isValidUserId(userId)) {
    throw new DeliveryError('BAD_USER', `user id must be a well-formed string (no unpaired surrogates) of 1-${MAX_USER_ID_LENGTH} UTF-16 code units`);
  }
}

/**
 * Publishes into the delivery stream with per-user optimistic concurrency: every message names the user's
 * previous position (`Wsring-Prev`) and JetStream stores it only if that is still the subject's last sequence
 * (`Nats-Expected-Last-Subject-Sequence`). So the stored chain of positions per user has no hole a reader
 * could miss. The publisher remembers each user's last position; when another publisher wrote in between,
 * JetStream's refusal names the current last sequence and the publish is retried with it.
 *
 * Pipelined: one publish per user is in flight at a time (that keeps a user's messages in call order), and
 * any number of users are in flight at once over one acknowledgement inbox.
 *
 * A lost acknowledgement is retried without a duplicate: the resend names the same predecessor, so it can only
 * be stored in the one slot after it. If that slot is taken ("wrong last sequence"), the message in it is read
 * back: carrying this publish's `Wsring-Id` it is the first copy (stored, done); otherwise the first copy was
 * never stored and the publish goes on as after any concurrent write.
 */
export class StreamPublisher implements Publisher {
  private readonly acks: AckInbox;
  private jsm: Promise<JetStreamManager> | undefined;
  /** Last known position per user, least recently used first. */
  private readonly lastPos = new Map<string, number>();
  /** Per-user tail of publishes in flight: one user's publishes are stored in call order. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Publish ids this publisher makes when the caller gave none: unique per publisher process. */
  private readonly idPrefix = nuid.next();
  private published = 0;
  private closed = false;
  /**
   * stored: messages stored; retries: resends because another publisher had written to the same user first;
   * ackRetries: resends after a lost acknowledgement; recovered: of those, messages found already stored.
   */
  readonly stats = { stored: 0, retries: 0, ackRetries: 0, recovered: 0 };

  constructor(private readonly nc: NatsConnection, private readonly o: ResolvedDeliveryOptions, private readonly ownsConnection = false) {
    this.acks = new AckInbox(nc, o.publishTimeoutMs);
  }

  publish(userId: string, data: unknown, options: PublishOptions = {}): Promise<Published> {
    if (this.closed) return Promise.reject(new DeliveryError('CLOSED', 'publisher is closed'));
    try {
      checkUser(userId);
    } catch (err) {
      return Promise.reject(err);
    }
    let payload: Uint8Array;
    try {
      payload = encodeData(data, this.o.maxMessageBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = () => this.store(userId, payload, options.id);
    const tail = this.tails.get(userId);
    const result = tail ? tail.then(run, run) : run();
    this.tails.set(userId, result);
    const clear = () => {
      if (this.tails.get(userId) === result) this.tails.delete(userId);
    };
    result.then(clear, clear);
    return result;
  }

  private async store(userId: string, payload: Uint8Array, id: string | undefined): Promise<Published> {
    const subject = subjectOf(this.o.subjectPrefix, userId);
    const publishId = id ?? `${this.idPrefix}.${++this.published}`;
    let expected = this.lastPos.get(userId) ?? 0;
    /** A copy of this message went out naming `expected` and its answer was lost: it may sit in the slot after `expected`. */
    let unsure = false;
    let ackRetries = 0;
    for (let attempt = 1; attempt <= this.o.maxPublishAttempts; ) {
      const h = headers();
      h.set(EXPECTED_LAST_HEADER, String(expected));
      h.set(PREV_HEADER, String(expected));
      h.set(ID_HEADER, publishId);
      if (id !== undefined) h.set('Nats-Msg-Id', id);
      let ack: PubAck;
      try {
        ack = await this.acks.publish(subject, payload, h);
      } catch (err) {
        if (err instanceof AckLost) {
          if (ackRetries >= this.o.maxAckRetries) {
            this.lastPos.delete(userId);
            throw new DeliveryError('STORE_UNAVAILABLE', `no acknowledgement after ${ackRetries + 1} sends of ${this.o.publishTimeoutMs} ms: the message may or may not be stored`, { cause: err });
          }
          ackRetries++;
          this.stats.ackRetries++;
          unsure = true;
          continue;
        }
        if (err instanceof AckRefused && err.errCode === WRONG_LAST_SEQUENCE) {
          const last = reportedLast(err.message) ?? (await this.readLast(subject));
          if (unsure) {
            const mine = await this.storedAfter(subject, expected, publishId);
            if (mine !== undefined) {
              this.remember(userId, last);
              this.stats.recovered++;
              this.stats.stored++;
              return { pos: mine, prev: expected, duplicate: false };
            }
            // The slot holds another publisher's message: ours was never stored.
            unsure = false;
          }
          this.stats.retries++;
          this.remember(userId, last);
          expected = last;
          // A stale cache is fixed by one immediate retry; publishers racing on one user back off with jitter
          // so one of them gets through.
          if (attempt > 1) await sleep(Math.random() * Math.min(100, 2 ** attempt));
          attempt++;
          continue;
        }
        if (unsure) this.lastPos.delete(userId);
        throw this.failure(err);
      }
      if (ack.duplicate) {
        // Stored earlier under the caller's id: by an earlier call (a duplicate), or by this call's own first copy.
        this.lastPos.delete(userId);
        if (!unsure) return { pos: ack.seq, prev: undefined, duplicate: true };
        this.stats.recovered++;
        this.stats.stored++;
        return { pos: ack.seq, prev: expected, duplicate: false };
      }
      this.remember(userId, ack.seq);
      this.stats.stored++;
      return { pos: ack.seq, prev: expected, duplicate: false };
    }
    throw new DeliveryError('CONTENDED', `user's subject kept changing under ${this.o.maxPublishAttempts} attempts`);
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= jetstreamManager(this.nc, { timeout: this.o.publishTimeoutMs, checkAPI: false });
    return this.jsm;
  }

  /** The subject's last sequence read from the stream (only if an error did not name it). */
  private async readLast(subject: string): Promise<number> {
    try {
      const m = await (await this.manager()).streams.getMessage(this.o.stream, { last_by_subj: subject });
      return m?.seq ?? 0;
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** The position of the user's message right after `prev`, if it is the one published as `publishId`. */
  private async storedAfter(subject: string, prev: number, publishId: string): Promise<number | undefined> {
    try {
      const next: NextMsgRequest = { seq: prev + 1, next_by_subj: subject };
      const m = await (await this.manager()).streams.getMessage(this.o.stream, next as unknown as MsgRequest);
      return m && m.header?.get(ID_HEADER) === publishId ? m.seq : undefined;
    } catch (err) {
      throw this.failure(err);
    }
  }

  private remember(userId: string, pos: number): void {
    this.lastPos.delete(userId);
    this.lastPos.set(userId, pos);
    if (this.lastPos.size > this.o.positionCacheSize) this.lastPos.delete(this.lastPos.keys().next().value as string);
  }

  private failure(err: unknown): DeliveryError {
    if (err instanceof DeliveryError) return err;
    if (err instanceof AckRefused || err instanceof JetStreamApiError) {
      const status = err instanceof AckRefused ? err.status : err.status;
      const code = err instanceof AckRefused ? err.errCode : err.code;
      // 503-style answers (no stream, no leader, no responders) mean the store is not there right now.
      if (status === 503 || code === 10008 || code === 10059) return new DeliveryError('STORE_UNAVAILABLE', err.message, { cause: err });
      return new DeliveryError('REJECTED', `JetStream refused the message: ${err.message}`, { cause: err });
    }
    return new DeliveryError('STORE_UNAVAILABLE', `message not confirmed stored: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.tails.values()]);
    this.acks.close();
    if (this.ownsConnection) await this.nc.drain().catch(() => this.nc.close());
  }
}

const isConnection = (x: PublisherOptions['nats']): x is NatsConnection => typeof (x as NatsConnection).publish === 'function';

/**
 * A publisher for services that are not WebSocket nodes: messages reach each user wherever it is connected.
 * Creates the stream if it is missing (with these options); an existing stream is used as it is.
 */
export async function createPublisher(options: PublisherOptions): Promise<Publisher> {
  const { nats, ...rest } = options;
  const o = resolveDeliveryOptions(rest);
  let nc: NatsConnection;
  const owns = !isConnection(nats);
  if (isConnection(nats)) nc = nats;
  else {
    try {
      nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true, ...nats.connect });
    } catch (err) {
      throw new DeliveryError('STORE_UNAVAILABLE', redactUrls(`cannot connect to NATS at ${String(nats.servers)}: ${(err as Error).message}`), { cause: err });
    }
  }
  try {
    await ensureStream(await jetstreamManager(nc, { timeout: o.publishTimeoutMs }), o, 'create');
  } catch (err) {
    if (owns) await nc.close().catch(() => {});
    if (err instanceof DeliveryError) throw err;
    throw new DeliveryError('STORE_UNAVAILABLE', `cannot open stream ${o.stream}: ${(err as Error).message}`, { cause: err });
  }
  return new StreamPublisher(nc, o, owns);
}
