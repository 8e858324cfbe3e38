// Reads one user's stored messages back from the delivery stream, oldest first: what the store holds for the user,
// to tell a message the store lost from one the delivery path lost.
import { jetstreamManager, type MsgRequest } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { resolveDeliveryOptions, type DeliveryOptions } from '../delivery/options.js';
import { subjectOf } from '../delivery/subjects.js';

export interface StoredMessage {
  /** Its position (stream sequence). */
  pos: number;
  data: unknown;
}

/** Every message stored for `user` (at most `limit`), through a connection of its own to `servers`. */
export async function readUserMessages(servers: string[], user: string, options: DeliveryOptions & { limit?: number } = {}): Promise<StoredMessage[]> {
  const o = resolveDeliveryOptions(options);
  const subject = subjectOf(o.subjectPrefix, user);
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const out: StoredMessage[] = [];
    for (let seq = 1; out.length < (options.limit ?? 10_000); ) {
      // The next message on the user's subject from `seq` on; none left: an error (or null).
      const m = await jsm.streams.getMessage(o.stream, { seq, next_by_subj: subject } as unknown as MsgRequest).catch(() => null);
      if (!m) break;
      out.push({ pos: m.seq, data: m.json() });
      seq = m.seq + 1;
    }
    return out;
  } finally {
    await nc.close();
  }
}
