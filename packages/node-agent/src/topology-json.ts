// The topology as clients receive it (the `/topology` body, and inside move frames), serialized once per snapshot
// and, when the agent has a signing key, signed once per snapshot.
import { PROTOCOL_VERSION, TOPOLOGY_SIGNATURE_FIELD, encodeFrame, type ReconnectFrame, type RedirectFrame, type Topology } from '@wsring/protocol';
import type { TopologySigner } from './topology-signer.js';
import type { AgentTopology } from './types.js';

export function topologyBody(t: AgentTopology): Topology {
  return { protocol: PROTOCOL_VERSION, epoch: t.epoch, fingerprint: t.fingerprint, ring: t.ring.toJSON(), nodes: t.nodes };
}

// A rebalance sends the same topology to every moved user and a wave of bootstraps fetches it: serialize (and
// sign) each snapshot once. Snapshots are immutable (the agent replaces its topology object on every change).
const serialized = new WeakMap<AgentTopology, { signer: TopologySigner | undefined; text: string }>();

export function topologyJson(t: AgentTopology, signer?: TopologySigner): string {
  const cached = serialized.get(t);
  if (cached && cached.signer === signer) return cached.text;
  let text = JSON.stringify(topologyBody(t));
  // Signed as the client will read it: the bytes come from the parsed text, not from the objects it was made of.
  if (signer) text = `${text.slice(0, -1)},${JSON.stringify(TOPOLOGY_SIGNATURE_FIELD)}:${JSON.stringify(signer.sign(JSON.parse(text)))}}`;
  serialized.set(t, { signer, text });
  return text;
}

/**
 * The text of a reconnect or redirect frame from topology `t`. When the client's known epoch (the one it
 * connected with or was welcomed with) is older than `t`'s, or unknown, `t` goes inside as `topology`, so the
 * client can move at once instead of fetching `/topology` to learn the target node (a client only does so when
 * the topology is signed by a key it was given; docs/protocol.md, "Trust"). The cached snapshot text is
 * spliced in: the ring is never serialized per user.
 */
export function moveFrameText(
  frame: Omit<ReconnectFrame, 'topology'> | Omit<RedirectFrame, 'topology'>,
  t: AgentTopology,
  clientEpoch: number | undefined,
  signer?: TopologySigner,
): string {
  const text = encodeFrame(frame as ReconnectFrame | RedirectFrame);
  if (clientEpoch !== undefined && clientEpoch >= t.epoch) return text;
  return `${text.slice(0, -1)},"topology":${topologyJson(t, signer)}}`;
}
