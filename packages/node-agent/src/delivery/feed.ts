import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager, StreamState } from '@nats-io/jetstream';
import type { ServerFrame } from '@wsring/protocol';
import type { Logger } from '../types.js';
import { Coalesced } from './coalesce.js';
import { Entry, republishedSeq } from './entry.js';
import { LiveSubscription, liveSubscriber, type LiveSubscriber } from './live-subscriptions.js';
import type { ResolvedDeliveryOptions } from './options.js';
import { BatchedReplayReader, type ReplayReader } from './replay-reader.js';
import { flatSubjectOf, subjectOf } from './subjects.js';

/** Where a user's frames go: a client connection on this node. */
export interface DeliveryTarget {
  readonly userId: string;
  sendFrame(frame: ServerFrame): boolean;
  /**
   * Send a `message` frame already encoded as UTF-8 JSON text (built once from the stored bytes, shared by the
   * user's sessions). Optional: without it the frame is decoded and given to `sendFrame`.
   */
  sendEncoded?(frame: Uint8Array): boolean;
}

/** Counters the feed keeps (exported as metrics by the agent). */
export interface FeedStats {
  live: number;
  replayed: number;
  duplicatesDropped: number;
  /** Gap reports sent (`recovered: false`). */
  gaps: number;
  /** Replays started because a live message named a predecessor this connection had not seen. */
  repairs: number;
}

const SYNCING = 1;
const AGAIN = 2;
const CLOSED = 4;

/**
 * One connection's place in its user's stream. Kept small (an idle connection costs this object and nothing
 * else in delivery): flags in one field, the buffer of live messages held during a replay made when needed.
 */
class Follower {
  /** The user's next session on this node (the sessions of a user form a list from its LiveUser). */
  next: Follower | undefined = undefined;
  /** Highest position the client has (or has been told it is past); undefined until the first sync. */
  pos: number | undefined;
  /** The position the connection started from: a resume never reaches further back (a client cannot make the node replay its whole window over and over). */
  from: number | undefined;
  /** Where the client asked to resume from, applied when the next pass starts. */
  resumeFrom: number | undefined = undefined;
  /** Live messages that arrived while syncing, in arrival order (made on the first one). */
  pending: Entry[] | undefined = undefined;
  private flags = 0;

  constructor(readonly target: DeliveryTarget, last: number | undefined) {
    this.pos = last;
    this.from = last;
  }

  get syncing(): boolean {
    return (this.flags & SYNCING) !== 0;
  }
  set syncing(on: boolean) {
    this.flags = on ? this.flags | SYNCING : this.flags & ~SYNCING;
  }
  /** Sync again once the current pass ends (NATS came back, or the client asked to resume). */
  get again(): boolean {
    return (this.flags & AGAIN) !== 0;
  }
  set again(on: boolean) {
    this.flags = on ? this.flags | AGAIN : this.flags & ~AGAIN;
  }
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set closed(on: boolean) {
    this.flags = on ? this.flags | CLOSED : this.flags & ~CLOSED;
  }
}

/**
 * A user with at least one session on this node: its one live subscription (this object is the subscription,
 * see live-subscriptions.ts) and the list of its sessions' followers. Each live message fans out to every session.
 */
class LiveUser extends LiveSubscription {
  first: Follower | undefined = undefined;

  constructor(subject: string, private readonly feed: LiveFeed) {
    super(subject);
  }

  deliver(msg: Msg): void {
    const pos = republishedSeq(msg.headers);
    if (pos === undefined) return;
    const e = Entry.of(pos, msg.headers, msg.data);
    for (let f = this.first; f; ) {
      const next = f.next;
      this.feed.onLive(f, e);
      f = next;
    }
  }
}

const validPos = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** What a feed is made of besides its connection; tests give their own. */
export interface FeedParts {
  /** Reads what a replay sends. Default: a few gets, then batches (BatchedReplayReader). */
  reader?: ReplayReader;
  /** Opens the live subscriptions. Default: liveSubscriber(nc). */
  live?: LiveSubscriber;
}

/**
 * The delivery side of a node: for every connected user, replays from the stream what the client is missing,
 * then forwards the user's live messages (the stream republishes each stored message to a per-user live
 * subject, with its sequence and its predecessor's). Both paths carry stream sequences, so duplicates are
 * dropped by position and a live message naming a predecessor the connection has not seen (a live message
 * lost while NATS was away) starts a replay instead of a silent skip.
 */
export class LiveFeed {
  /**
   * One live subscription per user on this node, shared by the user's sessions: each live message fans out to
   * every session's follower, and each follower keeps its own position (sessions replay and dedupe on their own).
   */
  private readonly live = new Map<string, LiveUser>();
  /** Sessions attached (followers in the lists of `live`). */
  private sessions = 0;
  private readonly subscriber: LiveSubscriber;
  private closed = false;
  /** NATS disconnections so far: a checkpoint is only trusted if none happened since it was taken. */
  private disconnects = 0;
  /** The stream's end at the previous checkpoint tick. */
  private mark: { seq: number; disconnects: number } | undefined;
  private checkpointTimer: ReturnType<typeof setInterval> | undefined;
  /**
   * The stream's state, read after a flush: every live subscription made before the call is in place at the
   * server before the state is read. Shared by the connections that attach at the same moment (a rebalance
   * brings hundreds at once), so they cost one round trip pair, not one each.
   */
  private readonly streamState: Coalesced<StreamState>;
  /** Replays running now, and the ones waiting for a slot (bounded by maxConcurrentReplays). */
  private replaying = 0;
  private readonly replayQueue: (() => void)[] = [];
  readonly stats: FeedStats = { live: 0, replayed: 0, duplicatesDropped: 0, gaps: 0, repairs: 0 };
  /** Reads what a replay sends: a few gets, then batches. */
  readonly reader: ReplayReader;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly o: ResolvedDeliveryOptions,
    private readonly logger: Logger,
    parts: FeedParts = {},
  ) {
    this.subscriber = parts.live ?? liveSubscriber(nc);
    this.reader = parts.reader ?? new BatchedReplayReader(nc, jsm, { stream: o.stream, batch: o.replayBatch, timeoutMs: o.publishTimeoutMs });
    this.streamState = new Coalesced(async () => {
      await this.nc.flush();
      return (await this.jsm.streams.info(this.o.stream)).state;
    });
    this.checkpointTimer = setInterval(() => void this.checkpoint(), o.checkpointMs);
    this.checkpointTimer.unref();
  }

  get size(): number {
    return this.sessions;
  }

  /** Whether live subscriptions are the light ones (see live-subscriptions.ts). */
  get lightSubscriptions(): boolean {
    return this.subscriber.light;
  }

  /** The follower of a connection, if attached. */
  private followerOf(target: DeliveryTarget): Follower | undefined {
    for (let f = this.live.get(target.userId)?.first; f; f = f.next) if (f.target === target) return f;
    return undefined;
  }

  /** Every follower. */
  private *all(): IterableIterator<Follower> {
    for (const user of this.live.values()) for (let f = user.first; f; f = f.next) yield f;
  }

  /** Start delivering to a connection. `last`: the position the client reported (undefined: a fresh client, it starts now). */
  attach(target: DeliveryTarget, last: number | undefined): void {
    if (this.closed) return;
    this.detach(target);
    const f = new Follower(target, validPos(last) ? last : undefined);
    this.subscribe(f);
    void this.sync(f);
  }

  /** The client saw a gap in what it received: replay from its last position (not before where the connection started). */
  resume(target: DeliveryTarget, last: number): void {
    const f = this.followerOf(target);
    if (!f || !validPos(last)) return;
    f.resumeFrom = Math.max(last, f.from ?? 0);
    void this.sync(f);
  }

  detach(target: DeliveryTarget): void {
    const user = this.live.get(target.userId);
    let prev: Follower | undefined;
    let f = user?.first;
    while (f && f.target !== target) f = (prev = f).next;
    if (!user || !f) return;
    if (prev) prev.next = f.next;
    else user.first = f.next;
    this.sessions--;
    f.closed = true;
    f.pending = undefined;
    if (user.first) return;
    this.live.delete(target.userId);
    this.subscriber.close(user);
  }

  /** Users with a live subscription here (one each, however many sessions). */
  get subscriptions(): number {
    return this.live.size;
  }

  /**
   * Join the user's live subscription, opening it for the user's first session. A session joining an open one
   * misses nothing: its replay reads the stream after a flush, and the subscription has been in place since before.
   */
  private subscribe(f: Follower): void {
    const userId = f.target.userId;
    this.sessions++;
    const shared = this.live.get(userId);
    if (shared) {
      // Appended: the list stays in attach order.
      let last = shared.first;
      while (last?.next) last = last.next;
      if (last) last.next = f;
      else shared.first = f;
      return;
    }
    const user = new LiveUser(flatSubjectOf(this.o.livePrefix, userId), this);
    user.first = f;
    this.live.set(userId, user);
    this.subscriber.open(user);
  }

  /** The NATS connection dropped: live messages may be lost until the resync that follows the reconnect. */
  disconnected(): void {
    this.disconnects++;
  }

  /** After NATS comes back: live messages may have been lost meanwhile, so every connection catches up from the stream. */
  resyncAll(): void {
    for (const f of [...this.all()]) void this.sync(f);
  }

  /**
   * Move idle connections' positions to the stream's end as it was one tick ago. Everything of a user stored up to
   * then reached this node on its live subscription long since (a core NATS connection delivers in order and
   * loses nothing while it stays up; after a drop every connection resyncs instead), and a connection at its
   * position has it. Without this, a user who got nothing for longer than the window would look, on its next
   * reconnect, as if it might have lost something.
   */
  private async checkpoint(): Promise<void> {
    const previous = this.mark;
    try {
      const { state } = await this.jsm.streams.info(this.o.stream);
      this.mark = { seq: state.last_seq, disconnects: this.disconnects };
    } catch {
      this.mark = undefined;
      return;
    }
    if (!previous || previous.disconnects !== this.disconnects) return;
    for (const f of this.all()) {
      if (f.syncing || f.closed || f.pos === undefined || f.pos >= previous.seq || (f.pending?.length ?? 0) > 0) continue;
      f.pos = previous.seq;
      f.target.sendFrame({ type: 'checkpoint', pos: previous.seq });
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.checkpointTimer);
    for (const f of [...this.all()]) this.detach(f.target);
  }

  /** A live message for one of the user's sessions (called by its LiveUser). */
  onLive(f: Follower, e: Entry): void {
    if (f.closed) return;
    // A fresh connection's first live message marks where it started: everything after its predecessor is its own.
    if (f.pos === undefined && f.from === undefined) f.from = e.pos - 1;
    if (f.syncing) {
      if ((f.pending?.length ?? 0) >= this.o.maxPendingPerConnection) {
        // Too far behind to buffer: drop the buffer and replay again from the stream instead.
        f.pending = undefined;
        f.again = true;
      } else (f.pending ??= []).push(e.kept());
      return;
    }
    if (f.pos !== undefined && e.pos <= f.pos) {
      this.stats.duplicatesDropped++;
      return;
    }
    if (f.pos !== undefined && e.prev !== undefined && e.prev > f.pos) {
      // The live path skipped a message this connection has not had: replay fills it in before this one.
      this.stats.repairs++;
      (f.pending ??= []).push(e.kept());
      void this.sync(f);
      return;
    }
    this.stats.live++;
    this.send(f, e);
  }

  private send(f: Follower, e: Entry): void {
    const t = f.target;
    if (t.sendEncoded) t.sendEncoded(e.frame());
    else t.sendFrame(e.prev === undefined ? { type: 'message', data: e.data, pos: e.pos } : { type: 'message', data: e.data, pos: e.pos, prev: e.prev });
    f.pos = e.pos;
  }

  /** Replay until caught up (retrying while NATS is away), then deliver what arrived meanwhile. */
  private async sync(f: Follower): Promise<void> {
    if (f.syncing) {
      f.again = true;
      return;
    }
    f.syncing = true;
    let delayMs = 100;
    while (!f.closed && !this.closed) {
      f.again = false;
      if (f.resumeFrom !== undefined) {
        f.pos = f.resumeFrom;
        f.resumeFrom = undefined;
      }
      try {
        await this.slot();
        try {
          await this.replay(f);
        } finally {
          this.release();
        }
      } catch (err) {
        this.logger.debug({ user: f.target.userId, err: String(err) }, 'replay failed, retrying');
        await sleep(delayMs);
        delayMs = Math.min(2_000, delayMs * 2);
        f.again = true;
      }
      if (f.again || f.resumeFrom !== undefined) continue;
      f.syncing = false;
      const pending = f.pending?.sort((a, b) => a.pos - b.pos);
      f.pending = undefined;
      if (pending) for (const e of pending) this.onLive(f, e);
      return;
    }
    f.syncing = false;
  }

  /** Wait for a replay slot: a NATS restart makes every connection replay at once, JetStream takes them in turn. */
  private slot(): Promise<void> {
    if (this.replaying < this.o.maxConcurrentReplays) {
      this.replaying++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.replayQueue.push(resolve));
  }

  private release(): void {
    const next = this.replayQueue.shift();
    // The slot passes straight to the next waiter.
    if (next) next();
    else this.replaying--;
  }

  /** One pass: send the client everything stored for its user after its position, then where it now stands. */
  private async replay(f: Follower): Promise<void> {
    if (f.closed) return;
    // Our live subscription must be in place at the server before the read, or a message stored between the
    // read and the subscription would be in neither.
    const state = await this.streamState.next();
    if (f.pos === undefined) {
      // A fresh client starts at its admission: after everything stored before its live subscription was in place
      // (the welcome went out in the same turn), so whatever arrived live since then (`from`, see onLive) is
      // replayed even when it was stored before this read. Starting at last_seq instead would drop a message
      // published between the client's `open` and this read.
      f.pos = f.from === undefined ? state.last_seq : Math.min(f.from, state.last_seq);
      f.from = f.pos;
      if (f.pos === state.last_seq) {
        f.target.sendFrame({ type: 'synced', pos: f.pos });
        return;
      }
    }
    let first = true;
    for await (const e of this.reader.read(subjectOf(this.o.subjectPrefix, f.target.userId), f.pos, state.last_seq)) {
      // Leaving the loop ends the read (and releases its consumer).
      if (f.closed || f.again || f.resumeFrom !== undefined) return;
      // Checked before every message, not only the first: one can expire between two reads.
      this.reportLoss(f, e, state.first_seq);
      first = false;
      this.stats.replayed++;
      this.send(f, e);
    }
    if (f.closed || f.again || f.resumeFrom !== undefined) return;
    if (first) this.reportLoss(f, undefined, state.first_seq);
    // Every message of this user stored up to last_seq existed before the reads above, so it has been sent.
    f.pos = Math.max(f.pos, state.last_seq);
    f.target.sendFrame({ type: 'synced', pos: f.pos });
  }

  /**
   * Before each replayed message (or when none is stored): did messages after the client's position fall
   * out of the retention window? Certain when the first stored message names a predecessor the client lacks;
   * possible when the user's chain restarted (every earlier message had expired when it was published) or
   * nothing is stored, while the window has moved past the client's position.
   */
  private reportLoss(f: Follower, e: Entry | undefined, firstSeq: number): void {
    const last = f.pos as number;
    let gap: { from: number; to: number; certain: boolean } | undefined;
    if (e?.prev !== undefined && e.prev > last) gap = { from: last + 1, to: e.prev, certain: true };
    else if ((e === undefined || !e.prev) && last + 1 < firstSeq) gap = { from: last + 1, to: Math.min(firstSeq, e?.pos ?? firstSeq) - 1, certain: false };
    if (!gap || gap.to < gap.from) return;
    this.stats.gaps++;
    f.target.sendFrame({ type: 'gap', ...gap });
    f.pos = gap.to;
  }
}
