import type { NatsConnection } from '@nats-io/transport-node';
import { AgentError } from './errors.js';
import { connectNats, NatsMembership } from './membership/nats.js';
import type { AgentOptions, Logger, Membership } from './types.js';

/** Where membership lives, and the NATS connection the agent opened for it (shared with delivery), if any. */
export interface Store {
  membership: Membership;
  nc: NatsConnection | undefined;
  /** Close what the agent opened; a membership given by the caller stays theirs. */
  release(): Promise<void>;
}

export async function openStore(options: AgentOptions, logger: Logger): Promise<Store> {
  if (options.membership) return { membership: options.membership, nc: undefined, release: async () => {} };
  if (!options.nats) throw new AgentError('NO_MEMBERSHIP', 'createAgent needs `nats` or `membership`');
  const { servers, connect, bucket, stepTimeoutMs, replicas } = options.nats;
  const nc = await connectNats({ servers, connect });
  const drain = () => nc.drain().catch(() => nc.close());
  try {
    const membership = await NatsMembership.open(nc, { bucket, stepTimeoutMs, replicas, logger });
    return {
      membership,
      nc,
      release: async () => {
        await membership.close().catch(() => {});
        await drain();
      },
    };
  } catch (err) {
    await drain();
    throw err;
  }
}

