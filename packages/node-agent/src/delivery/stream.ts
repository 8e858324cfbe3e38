import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { DeliveryError } from './errors.js';
import type { ResolvedDeliveryOptions } from './options.js';

const nanos = (ms: number) => ms * 1_000_000;
// JetStream's default duplicate window; it may not exceed max_age.
const DUPLICATE_WINDOW_MS = 120_000;

/** The stream configuration for the given options. Every agent of a fleet must derive the same. */
export function streamConfig(o: ResolvedDeliveryOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: o.stream,
    subjects: [`${o.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: o.replicas,
    max_age: nanos(o.maxAgeMs),
    max_bytes: o.maxBytes,
    max_msg_size: o.maxMessageBytes,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, o.maxAgeMs)),
    // Every stored message is also published, with its sequence and its subject's previous sequence, to the
    // live subject of its user: the live path and the replay path read the same positions.
    republish: { src: `${o.subjectPrefix}.>`, dest: `${o.livePrefix}.>` },
  };
}

const isNotFound = (err: unknown) => err instanceof JetStreamApiError && err.code === 10059;
const isNameInUse = (err: unknown) => err instanceof JetStreamApiError && err.code === 10058;

/** The limits an agent brings an existing stream to. */
const LIMITS = ['max_age', 'max_bytes', 'max_msg_size', 'discard', 'duplicate_window'] as const;
const differs = (have: Partial<StreamConfig>, want: Partial<StreamConfig>) => LIMITS.some((k) => have[k] !== want[k]);

/**
 * Make sure the delivery stream exists. `update`: an existing stream with other limits is brought to these
 * (agents own the configuration); `create`: an existing stream is used as it is (publishers only create a
 * missing one). Several processes may race to create it: the loser reads what the winner made.
 */
export async function ensureStream(jsm: JetStreamManager, o: ResolvedDeliveryOptions, mode: 'update' | 'create', enforceReplicas = false): Promise<void> {
  const want = streamConfig(o);
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(want.name);
      // nats-server cannot change a stream's republish rule, and without it there is no live path.
      const rp = info.config.republish;
      if (rp?.src !== want.republish?.src || rp?.dest !== want.republish?.dest) {
        throw new DeliveryError(
          'INVALID_OPTION',
          `stream ${want.name} exists with republish ${JSON.stringify(rp ?? null)}, not ${JSON.stringify(want.republish)}: use another stream name or recreate it`,
        );
      }
      // Replicas change only when asked for explicitly: an agent with the default must not scale a stream down.
      const rescale = enforceReplicas && info.config.num_replicas !== want.num_replicas;
      if (mode === 'update' && (differs(info.config, want) || rescale)) {
        const limits = Object.fromEntries(LIMITS.map((k) => [k, want[k]]));
        const replicas = rescale ? { num_replicas: want.num_replicas } : {};
        try {
          await jsm.streams.update(want.name, { ...info.config, ...limits, ...replicas });
        } catch (err) {
          if (!rescale) throw err;
          throw new DeliveryError(
            'INVALID_OPTION',
            `stream ${want.name} has ${info.config.num_replicas} replica(s), replicas asks for ${want.num_replicas}, and the server refused to change it (${(err as Error).message})`,
          );
        }
      }
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await jsm.streams.add(want);
      return;
    } catch (err) {
      if (!isNameInUse(err) || attempt >= 3) throw err;
    }
  }
}
