// Time measured in the agents' own heartbeats, read from the membership bucket: "every agent has written N more
// heartbeats" is a condition a test can wait for, where a sleep would only guess how long a period is.
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NATS_MEMBERSHIP_DEFAULTS } from '../membership/nats.js';
import { memberKey } from '../membership/records.js';

export class HeartbeatCounter {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
  ) {}

  /** Reads `bucket` (default `wsring`) through its own connection to `servers`. */
  static async open(servers: string[], bucket: string = NATS_MEMBERSHIP_DEFAULTS.bucket): Promise<HeartbeatCounter> {
    const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    return new HeartbeatCounter(nc, await new Kvm(nc).open(bucket));
  }

  /** The `seq` of each agent's record (undefined: no record, or the store did not answer). */
  async seqs(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    const entries = await Promise.all(
      ids.map(async (id) => {
        try {
          const entry = await this.kv.get(memberKey(id));
          return [id, entry && entry.operation === 'PUT' ? (entry.json() as { seq?: number }).seq : undefined] as const;
        } catch {
          return [id, undefined] as const;
        }
      }),
    );
    return new Map(entries);
  }

  /** Resolves once every agent in `ids` has a record with `count` more heartbeats than when called. */
  async waitFor(ids: readonly string[], count: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const start = await this.seqs(ids);
    let now = start;
    for (;;) {
      // An agent with no readable record yet starts counting from its first one.
      for (const id of ids) if (start.get(id) === undefined) start.set(id, now.get(id));
      if (ids.every((id) => (now.get(id) ?? -Infinity) >= (start.get(id) ?? Infinity) + count)) return;
      if (performance.now() > deadline) {
        throw new Error(`not every agent wrote ${count} heartbeats within ${timeoutMs} ms: ${ids.map((id) => `${id} ${start.get(id)}->${now.get(id)}`).join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
      now = await this.seqs(ids);
    }
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
