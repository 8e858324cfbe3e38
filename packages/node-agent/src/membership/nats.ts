import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import type { Logger, MemberRecord, Membership, MembershipEvent, StoredRecords, StoredTopology } from '../types.js';
import { AgentError } from '../errors.js';
import { redactUrls } from '../nats-auth.js';
import { MEMBER_PREFIX, TOPOLOGY_KEY, memberKey, parseMemberRecord, parseStoredTopology, readMemberRecord, successorKey } from './records.js';
import { SnapshotCollector } from './snapshot.js';
import { StepTimeoutError, withDeadline } from './deadline.js';

export interface NatsMembershipOptions {
  servers: string | string[];
  /** KV bucket name. Default `wsring`. */
  bucket?: string;
  /** Further options for `@nats-io/transport-node`'s `connect`; they override the reconnect defaults below. */
  connect?: Record<string, unknown>;
  logger?: Logger;
  /**
   * Replicas of the membership bucket in a NATS cluster (1-5). A new bucket is created with it; an existing one
   * with another count is scaled to it where the server allows, else opening fails naming both counts.
   * Default: 1 for a new bucket, an existing bucket as it is.
   */
  replicas?: number;
  /**
   * Longest one store step may take: a request (put, read, compare-and-set), opening the bucket or the watch,
   * and the watch's first snapshot. A step that misses it is abandoned and, after a reconnect, retried.
   * Default 5000 ms.
   */
  stepTimeoutMs?: number;
}

export const NATS_MEMBERSHIP_DEFAULTS = {
  bucket: 'wsring',
  stepTimeoutMs: 5_000,
  /** Never give up reconnecting: an agent keeps serving through an outage and must come back after it. */
  maxReconnectAttempts: -1,
  /** Short, so a restarted server is found again within a heartbeat or two. */
  reconnectTimeWait: 250,
  /** A silent (not closed) server is noticed within two intervals. */
  pingInterval: 5_000,
} as const;

function checkStepTimeout(stepTimeoutMs: number = NATS_MEMBERSHIP_DEFAULTS.stepTimeoutMs): number {
  if (!Number.isSafeInteger(stepTimeoutMs) || stepTimeoutMs < 1) {
    throw new AgentError('INVALID_OPTION', `nats.stepTimeoutMs must be an integer >= 1, got ${stepTimeoutMs}`);
  }
  return stepTimeoutMs;
}

/**
 * A NATS connection with the reconnect behaviour an agent needs (never give up, retry quickly, notice a
 * silent server), without async stack traces on requests; `options.connect` overrides any of it.
 */
export async function connectNats(options: { servers: string | string[]; connect?: Record<string, unknown> }): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      maxReconnectAttempts: NATS_MEMBERSHIP_DEFAULTS.maxReconnectAttempts,
      reconnectTimeWait: NATS_MEMBERSHIP_DEFAULTS.reconnectTimeWait,
      pingInterval: NATS_MEMBERSHIP_DEFAULTS.pingInterval,
      // nats.js otherwise captures two stack traces per request (gets, stream infos, KV writes), for errors the
      // agent logs by message only: most of a replay get's CPU time.
      noAsyncTraces: true,
      ...options.connect,
    });
  } catch (err) {
    // URLs may carry credentials: never in a message.
    throw new AgentError('MEMBERSHIP_UNAVAILABLE', redactUrls(`cannot connect to NATS at ${String(options.servers)}: ${(err as Error).message}`));
  }
}

const decodeJson = (e: KvEntry): unknown => {
  try {
    return e.json();
  } catch {
    return null;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** One open watch of one listener. */
interface Watcher {
  stop(): void;
  /** False once stopped: entries still queued in the iterator are not delivered. */
  live: boolean;
}

/**
 * Membership in a NATS JetStream KV bucket. nats-server 2.9 does not tell watchers when a key
 * expires, so liveness is not the bucket's job: agents judge it from the heartbeats they receive.
 * After a reconnect the watch is reopened from scratch, which redelivers every record.
 *
 * Every step after a reconnect has a deadline and is retried (reopening the bucket, opening the
 * watch, receiving its snapshot): a lost or slow reply must not leave the agent believing forever
 * that the store is away. Each reconnect starts a new recovery generation; older ones give up.
 */
export class NatsMembership implements Membership {
  private kv!: KV;
  private closed = false;
  /** Whether the NATS connection is up (writes fail fast while it is not, instead of queueing behind the outage). */
  private connected = true;
  /** Bumped on every disconnect and reconnect: recovery work of an older generation stops. */
  private generation = 0;
  private readonly listeners = new Set<(e: MembershipEvent) => void>();
  private readonly watchers = new Map<(e: MembershipEvent) => void, Watcher>();
  /** Listeners whose watch is being (re)opened, with the generation doing it. */
  private readonly reopening = new Map<(e: MembershipEvent) => void, number>();
  /** Listeners that got their first snapshot (`synced`); later ones are `reconnected`. */
  private readonly synced = new WeakSet<(e: MembershipEvent) => void>();
  private manager: Promise<JetStreamManager> | undefined;

  private constructor(
    readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly bucket: string,
    private readonly stepTimeoutMs: number,
    private readonly logger?: Logger,
    private readonly replicas?: number,
  ) {}

  /** Bring an existing bucket to `want` replicas, or fail naming both counts. */
  private async ensureReplicas(want: number): Promise<void> {
    const stream = `KV_${this.bucket}`;
    const jsm = await this.step(this.jsm(), 'opening the JetStream manager');
    const info = await this.step(jsm.streams.info(stream), 'reading the bucket configuration');
    const have = info.config.num_replicas;
    if (have === want) return;
    try {
      await this.step(jsm.streams.update(stream, { ...info.config, num_replicas: want }), 'changing the bucket replicas');
      this.logger?.info({ bucket: this.bucket, from: have, to: want }, 'membership bucket replicas changed');
      // The stream picks its leader and brings the new replicas current; writes have no responder until then.
      const deadline = Date.now() + this.stepTimeoutMs * 2;
      for (;;) {
        const now = await this.step(jsm.streams.info(stream), 'reading the bucket after its change');
        if (now.cluster?.leader && (now.cluster.replicas ?? []).length === want - 1 && (now.cluster.replicas ?? []).every((r) => r.current)) break;
        if (Date.now() > deadline) break;
        await sleep(100);
      }
    } catch (err) {
      throw new AgentError(
        'INVALID_OPTION',
        `KV bucket ${this.bucket} has ${have} replica(s), nats.replicas asks for ${want}, and the server refused to change it (${(err as Error).message}): use the bucket's count or recreate it`,
      );
    }
  }

  /** Connect to NATS and open membership; the membership owns (and on close drains) its connection. */
  static async connect(options: NatsMembershipOptions): Promise<NatsMembership> {
    const stepTimeoutMs = checkStepTimeout(options.stepTimeoutMs);
    const nc = await connectNats(options);
    try {
      return await NatsMembership.openOn(nc, options, true, stepTimeoutMs);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  /** Open membership on a connection its caller owns (and closes): the agent shares one with delivery. */
  static open(nc: NatsConnection, options: Omit<NatsMembershipOptions, 'servers' | 'connect'> = {}): Promise<NatsMembership> {
    return NatsMembership.openOn(nc, options, false, checkStepTimeout(options.stepTimeoutMs));
  }

  private static async openOn(nc: NatsConnection, options: Omit<NatsMembershipOptions, 'servers' | 'connect'>, owns: boolean, stepTimeoutMs: number): Promise<NatsMembership> {
    const replicas = options.replicas;
    if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 5)) {
      throw new AgentError('INVALID_OPTION', `nats.replicas must be an integer 1-5, got ${replicas}`);
    }
    const m = new NatsMembership(nc, owns, options.bucket ?? NATS_MEMBERSHIP_DEFAULTS.bucket, stepTimeoutMs, options.logger, replicas);
    try {
      m.kv = await m.step(m.openBucket(), 'opening the bucket');
    } catch (err) {
      throw new AgentError('MEMBERSHIP_UNAVAILABLE', `cannot open KV bucket ${m.bucket}: ${(err as Error).message}`);
    }
    if (replicas !== undefined) await m.ensureReplicas(replicas);
    void m.followStatus();
    return m;
  }

  private openBucket(): Promise<KV> {
    // history 1: only the latest record matters. No bucket TTL: liveness is judged by agents.
    return new Kvm(jetstream(this.nc, { timeout: this.stepTimeoutMs })).create(this.bucket, { history: 1, replicas: this.replicas ?? 1 });
  }

  private step<T>(work: Promise<T>, what: string, discard?: (late: T) => void): Promise<T> {
    return withDeadline(work, this.stepTimeoutMs, what, discard);
  }

  async put(record: MemberRecord): Promise<void> {
    // A put made while disconnected would wait in the client's buffer and land late, after fresher ones.
    if (!this.connected) throw new AgentError('MEMBERSHIP_UNAVAILABLE', 'not connected to NATS');
    await this.step(this.kv.put(memberKey(record.id), JSON.stringify(record)), 'writing a member record');
  }

  async remove(id: string): Promise<void> {
    if (!this.connected) throw new AgentError('MEMBERSHIP_UNAVAILABLE', 'not connected to NATS');
    await this.step(this.kv.delete(memberKey(id)), 'deleting a member record');
  }

  async putSuccessor(record: MemberRecord): Promise<void> {
    if (!this.connected) throw new AgentError('MEMBERSHIP_UNAVAILABLE', 'not connected to NATS');
    await this.step(this.kv.put(successorKey(record.id), JSON.stringify(record)), 'writing a successor record');
  }

  async removeSuccessor(id: string): Promise<void> {
    if (!this.connected) throw new AgentError('MEMBERSHIP_UNAVAILABLE', 'not connected to NATS');
    await this.step(this.kv.delete(successorKey(id)), 'deleting a successor record');
  }

  async readRecords(id: string): Promise<StoredRecords> {
    const read = async (key: string) => {
      const e = await this.step(this.kv.get(key), 'reading a member record');
      if (!e || e.operation !== 'PUT') return undefined;
      const record = parseMemberRecord(decodeJson(e));
      return record && record.id === id ? { record, writtenAt: e.created.getTime() } : undefined;
    };
    const [member, successor] = await Promise.all([read(memberKey(id)), read(successorKey(id))]);
    return { ...(member ? { member } : {}), ...(successor ? { successor } : {}) };
  }

  async readTopology(): Promise<{ stored: StoredTopology; revision: number } | null> {
    const e = await this.step(this.kv.get(TOPOLOGY_KEY), 'reading the topology label');
    if (!e || e.operation !== 'PUT') return null;
    const stored = parseStoredTopology(decodeJson(e));
    // An invalid label (an epoch past RECORD_LIMITS.maxEpoch, not JSON...) counts as epoch 0 at its revision, so the
    // next compare-and-set replaces it instead of losing against it forever.
    return { stored: stored ?? { epoch: 0, fingerprint: '' }, revision: e.revision };
  }

  async casTopology(next: StoredTopology, revision: number): Promise<boolean> {
    const body = JSON.stringify(next);
    try {
      const write = revision === 0 ? this.kv.create(TOPOLOGY_KEY, body) : this.kv.update(TOPOLOGY_KEY, body, revision);
      await this.step(write, 'writing the topology label');
      return true;
    } catch (err) {
      // A lost race is an API error mentioning the sequence; anything else (timeouts) propagates.
      const message = String((err as Error).message);
      if (/wrong last sequence|key exists|10071|10164/i.test(message)) return false;
      throw err;
    }
  }

  /** Resolves once the watch is open; its snapshot (`synced`) follows, and is retried until it arrives. */
  async watch(listener: (event: MembershipEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    const gen = this.generation;
    const { snapshot } = await this.openWatch(listener, gen);
    snapshot.catch(() => this.keepWatching(listener, gen));
    return () => {
      this.listeners.delete(listener);
      this.stopWatcher(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    for (const l of [...this.watchers.keys()]) this.stopWatcher(l);
    if (this.ownsConnection) await this.step(this.nc.drain(), 'draining the NATS connection').catch(() => this.nc.close());
  }

  private current(gen: number): boolean {
    return !this.closed && this.connected && gen === this.generation;
  }

  private stopWatcher(listener: (e: MembershipEvent) => void): void {
    const w = this.watchers.get(listener);
    if (!w) return;
    w.live = false;
    w.stop();
    this.watchers.delete(listener);
  }

  /**
   * Open a watch over the whole bucket. Resolves once it is open, with a promise of its first snapshot,
   * which rejects (and stops the watch) if the snapshot is not in within the step deadline.
   *
   * The snapshot ends once every key the bucket holds, listed just after the watch opens, has come (see
   * `SnapshotCollector`). A starting agent settles on it at once: a snapshot short of a member would give
   * the fleet a ring without that member, labelled with a new epoch, and another when its record came.
   */
  private async openWatch(listener: (e: MembershipEvent) => void, gen: number): Promise<{ snapshot: Promise<void> }> {
    this.stopWatcher(listener);
    const iter = await this.step(this.kv.watch({ key: '>' }), 'opening the watch', (late) => late.stop());
    let keys: string[];
    try {
      keys = await this.step(this.listKeys(), 'listing the bucket keys');
    } catch (err) {
      iter.stop();
      throw err;
    }
    if (gen !== this.generation || this.closed) {
      iter.stop();
      throw new StepTimeoutError('the connection changed while the watch opened');
    }
    const watcher: Watcher = { live: true, stop: () => iter.stop() };
    this.watchers.set(listener, watcher);

    let resolveSnapshot!: () => void;
    const snapshotIn = new Promise<void>((resolve) => (resolveSnapshot = resolve));
    const collector = new SnapshotCollector<KvWatchEntry>(keys, (e) => e.key, (entries) => {
      // Ages are judged against the newest record, all on the server's clock: a stale record left by a
      // crashed node must not look alive to an agent that just started or has just reconnected.
      const newest = Math.max(0, ...entries.map((e) => e.created.getTime()));
      for (const e of entries) this.deliver(listener, e, newest - e.created.getTime());
      const first = !this.synced.has(listener);
      this.synced.add(listener);
      listener({ type: first ? 'synced' : 'reconnected' });
      resolveSnapshot();
    });
    void (async () => {
      for await (const e of iter) {
        if (!watcher.live) return;
        const live = collector.offer(e);
        if (live) this.deliver(listener, e, undefined);
      }
      // Ended without being stopped here: the watch is lost, open it again.
      if (watcher.live && !this.closed) {
        this.logger?.warn({}, 'membership watch ended, reopening it');
        this.stopWatcher(listener);
        void this.keepWatching(listener, this.generation);
      }
    })().catch((err) => {
      this.logger?.warn({ err: String(err) }, 'membership watch ended');
      if (watcher.live && !this.closed) {
        this.stopWatcher(listener);
        void this.keepWatching(listener, this.generation);
      }
    });
    const snapshot = this.step(snapshotIn, 'receiving the watch snapshot').catch((err: unknown) => {
      if (this.watchers.get(listener) === watcher) this.stopWatcher(listener);
      throw err;
    });
    return { snapshot };
  }

  private jsm(): Promise<JetStreamManager> {
    this.manager ??= jetstreamManager(this.nc, { timeout: this.stepTimeoutMs }).catch((err: unknown) => {
      this.manager = undefined;
      throw err;
    });
    return this.manager;
  }

  /** The keys the bucket holds now, from its stream's subjects (one request; no consumer, no pending counts). */
  private async listKeys(): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    const info = await this.jsm().then((jsm) => jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: '>' }));
    return Object.keys(info.state.subjects ?? {})
      .filter((subject) => subject.startsWith(prefix))
      .map((subject) => subject.slice(prefix.length));
  }

  /**
   * Open a listener's watch until its snapshot arrives, while this generation lasts. Re-entrant: a call
   * while another of the same generation is at work for the listener leaves it to that one, so two
   * loops never keep replacing each other's watch.
   */
  private async keepWatching(listener: (e: MembershipEvent) => void, gen: number): Promise<void> {
    if (this.reopening.get(listener) === gen) return;
    this.reopening.set(listener, gen);
    try {
      for (let attempt = 0; this.current(gen) && this.listeners.has(listener); attempt++) {
        try {
          this.logger?.debug({ attempt }, 'opening the membership watch');
          await (await this.openWatch(listener, gen)).snapshot;
          return;
        } catch (err) {
          if (!this.current(gen)) return;
          this.logger?.warn({ err: String((err as Error).message), attempt }, 'membership watch not ready, retrying');
          await sleep(Math.min(2_000, 100 * 2 ** attempt));
        }
      }
    } finally {
      if (this.reopening.get(listener) === gen) this.reopening.delete(listener);
    }
  }

  private deliver(listener: (e: MembershipEvent) => void, e: KvEntry, ageMs: number | undefined): void {
    if (e.key === TOPOLOGY_KEY) {
      if (e.operation !== 'PUT') return;
      const stored = parseStoredTopology(decodeJson(e));
      listener(stored ? { type: 'topology', stored, revision: e.revision } : { type: 'ignored', key: e.key, reason: 'topology-label' });
      return;
    }
    if (!e.key.startsWith(MEMBER_PREFIX)) return;
    const id = e.key.slice(MEMBER_PREFIX.length);
    if (e.operation !== 'PUT') {
      listener({ type: 'delete', id });
      return;
    }
    const read = readMemberRecord(decodeJson(e));
    if (!read.ok || read.record.id !== id) {
      // The listener warns and counts it; the record is never applied.
      listener({ type: 'ignored', key: e.key, reason: read.ok ? 'key-mismatch' : read.reason });
      return;
    }
    const record = read.record;
    listener(ageMs === undefined ? { type: 'put', record } : { type: 'put', record, ageMs });
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type === 'disconnect') {
        this.connected = false;
        this.generation++;
        for (const l of this.listeners) l({ type: 'disconnected' });
      } else if (s.type === 'reconnect') {
        this.connected = true;
        void this.recover(++this.generation);
      }
    }
  }

  /**
   * After a reconnect: reopen the bucket (a fresh server may need it recreated) and every watch, each
   * step under the deadline, retrying until it works or a newer reconnect (or close) takes over.
   */
  private async recover(gen: number): Promise<void> {
    for (let attempt = 0; this.current(gen); attempt++) {
      try {
        this.logger?.debug({ attempt }, 'membership resync: reopening the bucket');
        this.kv = await this.step(this.openBucket(), 'reopening the bucket');
        if (!this.current(gen)) return;
        break;
      } catch (err) {
        if (!this.current(gen)) return;
        // JetStream can take a moment to come back after the server restarts.
        this.logger?.warn({ err: String((err as Error).message), attempt }, 'membership resync failed, retrying');
        await sleep(Math.min(2_000, 100 * 2 ** attempt));
      }
    }
    await Promise.all([...this.listeners].map((l) => this.keepWatching(l, gen)));
  }
}
