import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { Logger, MemberRecord, Membership, MembershipEvent, StoredTopology } from '../types.js';
import { AgentError } from '../errors.js';
import { MEMBER_PREFIX, TOPOLOGY_KEY, memberKey, parseMemberRecord, parseStoredTopology } from './records.js';

export interface NatsMembershipOptions {
  servers: string | string[];
  /** KV bucket name. Default `wsring`. */
  bucket?: string;
  connect?: Record<string, unknown>;
  logger?: Logger;
}

const decodeJson = (e: KvEntry): unknown => {
  try {
    return e.json();
  } catch {
    return null;
  }
};

/**
 * Membership in a NATS JetStream KV bucket. nats-server 2.9 does not tell watchers when a key
 * expires, so liveness is not the bucket's job: agents judge it from the heartbeats they receive.
 * After a reconnect the watch is reopened from scratch, which redelivers every record.
 */
export class NatsMembership implements Membership {
  private kv!: KV;
  private closed = false;
  private resyncing = false;
  private resyncAgain = false;
  private readonly listeners = new Set<(e: MembershipEvent) => void>();
  private readonly stopWatchers = new Map<(e: MembershipEvent) => void, () => void>();

  private constructor(readonly nc: NatsConnection, private readonly bucket: string, private readonly logger?: Logger) {}

  static async connect(options: NatsMembershipOptions): Promise<NatsMembership> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 5_000,
        ...options.connect,
      });
    } catch (err) {
      throw new AgentError('MEMBERSHIP_UNAVAILABLE', `cannot connect to NATS at ${String(options.servers)}: ${(err as Error).message}`);
    }
    const m = new NatsMembership(nc, options.bucket ?? 'wsring', options.logger);
    try {
      m.kv = await m.openBucket();
    } catch (err) {
      await nc.close().catch(() => {});
      throw new AgentError('MEMBERSHIP_UNAVAILABLE', `cannot open KV bucket ${m.bucket}: ${(err as Error).message}`);
    }
    void m.followStatus();
    return m;
  }

  private openBucket(): Promise<KV> {
    // history 1: only the latest record matters. No bucket TTL: liveness is judged by agents.
    return new Kvm(this.nc).create(this.bucket, { history: 1 });
  }

  async put(record: MemberRecord): Promise<void> {
    await this.kv.put(memberKey(record.id), JSON.stringify(record));
  }

  async remove(id: string): Promise<void> {
    await this.kv.delete(memberKey(id));
  }

  async readTopology(): Promise<{ stored: StoredTopology; revision: number } | null> {
    const e = await this.kv.get(TOPOLOGY_KEY);
    if (!e || e.operation !== 'PUT') return null;
    const stored = parseStoredTopology(decodeJson(e));
    return stored && { stored, revision: e.revision };
  }

  async casTopology(next: StoredTopology, revision: number): Promise<boolean> {
    const body = JSON.stringify(next);
    try {
      if (revision === 0) await this.kv.create(TOPOLOGY_KEY, body);
      else await this.kv.update(TOPOLOGY_KEY, body, revision);
      return true;
    } catch (err) {
      // A lost race is an API error mentioning the sequence; anything else (timeouts) propagates.
      const message = String((err as Error).message);
      if (/wrong last sequence|key exists|10071|10164/i.test(message)) return false;
      throw err;
    }
  }

  async watch(listener: (event: MembershipEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    await this.openWatch(listener, false);
    return () => {
      this.listeners.delete(listener);
      this.stopWatchers.get(listener)?.();
      this.stopWatchers.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stopWatchers.values()) stop();
    this.stopWatchers.clear();
    await this.nc.drain().catch(() => this.nc.close());
  }

  /**
   * Open a watch over the whole bucket. The initial values are buffered until the last one
   * (delta 0) so their ages can be judged against the newest of them, all on the server's clock:
   * a stale record left by a crashed node must not look alive to an agent that just started or
   * has just reconnected.
   */
  private async openWatch(listener: (e: MembershipEvent) => void, isResync: boolean): Promise<void> {
    this.stopWatchers.get(listener)?.();
    const iter = await this.kv.watch({ key: '>' });
    this.stopWatchers.set(listener, () => iter.stop());
    let initial: KvEntry[] | null = [];
    const finishInitial = () => {
      const entries = initial!;
      initial = null;
      const newest = Math.max(0, ...entries.map((e) => e.created.getTime()));
      for (const e of entries) this.deliver(listener, e, newest - e.created.getTime());
      listener({ type: isResync ? 'reconnected' : 'synced' });
    };
    const status = await this.kv.status();
    if (status.values === 0) finishInitial();
    void (async () => {
      for await (const e of iter) {
        if (initial) {
          initial.push(e);
          if ((e.delta ?? 0) === 0) finishInitial();
        } else this.deliver(listener, e, undefined);
      }
    })().catch((err) => this.logger?.warn({ err: String(err) }, 'membership watch ended'));
  }

  private deliver(listener: (e: MembershipEvent) => void, e: KvEntry, ageMs: number | undefined): void {
    if (e.key === TOPOLOGY_KEY) {
      if (e.operation !== 'PUT') return;
      const stored = parseStoredTopology(decodeJson(e));
      if (stored) listener({ type: 'topology', stored, revision: e.revision });
      return;
    }
    if (!e.key.startsWith(MEMBER_PREFIX)) return;
    const id = e.key.slice(MEMBER_PREFIX.length);
    if (e.operation !== 'PUT') {
      listener({ type: 'delete', id });
      return;
    }
    const record = parseMemberRecord(decodeJson(e));
    if (!record || record.id !== id) {
      this.logger?.warn({ key: e.key }, 'ignoring malformed membership record');
      return;
    }
    listener(ageMs === undefined ? { type: 'put', record } : { type: 'put', record, ageMs });
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type === 'disconnect') {
        for (const l of this.listeners) l({ type: 'disconnected' });
      } else if (s.type === 'reconnect') {
        this.resync();
      }
    }
  }

  /**
   * After a reconnect: reopen the bucket (a fresh server may need it recreated) and every watch. One
   * resync at a time; a reconnect during one makes it run once more, so no watch is left open twice.
   */
  private resync(): void {
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = true;
    void (async () => {
      do {
        this.resyncAgain = false;
        for (let attempt = 0; !this.closed; attempt++) {
          try {
            this.kv = await this.openBucket();
            for (const l of this.listeners) await this.openWatch(l, true);
            break;
          } catch (err) {
            // JetStream can take a moment to come back after the server restarts.
            this.logger?.warn({ err: String((err as Error).message), attempt }, 'membership resync failed, retrying');
            await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
          }
        }
      } while (this.resyncAgain && !this.closed);
      this.resyncing = false;
    })();
  }
}
