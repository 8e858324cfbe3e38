// For a report on lost messages: was a lost number stored at all (the store lost an acknowledged write), or stored
// and not delivered (the delivery path lost it)?
import { readUserMessages } from '@wsring/node-agent/testing';
import type { TrackedClient } from '../integration/support.js';

/** `user#n` -> a sentence on where that message is, for each sample. */
export async function explainLost(servers: string[], samples: string[], clients: readonly TrackedClient[]): Promise<string[]> {
  const out: string[] = [];
  for (const sample of samples) {
    const [user, n] = sample.split('#');
    const stored = await readUserMessages(servers, user);
    const hit = stored.find((m) => (m.data as { n?: number }).n === Number(n));
    const client = clients.find((c) => c.user === user);
    out.push(
      `${sample}: ${hit ? `stored at position ${hit.pos}` : 'not in the stream'}; the stream holds ${stored.length} of the user's messages (positions ${stored[0]?.pos ?? '-'}..${stored.at(-1)?.pos ?? '-'}); the client is at position ${client?.client.position ?? '-'} on ${client?.client.node ?? '-'}`,
    );
  }
  return out;
}
