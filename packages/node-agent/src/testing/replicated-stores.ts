// The agent's two stores created up front with replicas, before any agent starts: agents find them and use them
// as they are (an agent creates the membership bucket and the delivery stream only when they are missing, and
// never changes an existing one's replicas).
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { resolveDeliveryOptions, type DeliveryOptions } from '../delivery/options.js';
import { streamConfig } from '../delivery/stream.js';
import { NATS_MEMBERSHIP_DEFAULTS } from '../membership/nats.js';

export interface ReplicatedStoresOptions {
  /** NATS URLs of the cluster. */
  servers: string[];
  /** Replicas of both stores. Default 3. */
  replicas?: number;
  /** Membership bucket (the agents' `--bucket`). Default `wsring`. */
  bucket?: string;
  /** The agents' delivery options (the same ones, or the stream will not match theirs); `false`: no stream. */
  delivery?: DeliveryOptions | false;
}

export interface ReplicatedStores {
  /** The bucket's stream, `KV_<bucket>`. */
  bucketStream: string;
  /** The delivery stream, if created. */
  deliveryStream: string | undefined;
}

/** Create the membership bucket (history 1, like the agents') and the delivery stream with `replicas` each. */
export async function createReplicatedStores(options: ReplicatedStoresOptions): Promise<ReplicatedStores> {
  const replicas = options.replicas ?? 3;
  const bucket = options.bucket ?? NATS_MEMBERSHIP_DEFAULTS.bucket;
  const nc = await connect({ servers: options.servers });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    await new Kvm(jsm.jetstream()).create(bucket, { history: 1, replicas });
    let deliveryStream: string | undefined;
    if (options.delivery !== false) {
      const config = streamConfig(resolveDeliveryOptions({ ...options.delivery, replicas }));
      await jsm.streams.add(config);
      deliveryStream = config.name;
    }
    return { bucketStream: `KV_${bucket}`, deliveryStream };
  } finally {
    await nc.close();
  }
}
