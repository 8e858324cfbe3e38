// The topology as clients receive it (the `/topology` body, and inside move frames), serialized once per snapshot.
import { PROTOCOL_VERSION, encodeFrame, type ReconnectFrame, type RedirectFrame, type Topology } from '@wsring/protocol';
import type { AgentTopology } from './types.js';

export function topologyBody(t: AgentTopology): Topology {
  return { protocol: PROTOCOL_VERSION, epoch: t.epoch, fingerprint: t.fingerprint, ring: t.ring.toJSON(), nodes: t.nodes };
}

// A rebalance sends the same topology to every moved user and a wave of bootstraps fetches it: serialize each
// snapshot once. Snapshots are immutable (the agent replaces its topology object on every change).
const serialized = new WeakMap<AgentTopology, string>();

export function topologyJson(t: AgentTopology): string {
  let text = serialized.get(t);
  if (text === undefined) {
    text = JSON.stringify(topologyBody(t));
    serialized.set(t, text);
  }
  return text;
}

/**
 * The text of a reconnect or redirect frame from topology `t`. When the client's known epoch (the one it
 * connected with or was welcomed with) is older than `t`'s, or unknown, `t` goes inside as `topology`, so the
 * client can move at once instead of fetching `/topology` to learn the target node. The cached snapshot text
 * is spliced in: the ring is never serialized per user.
 */
export function moveFrameText(frame: Omit<ReconnectFrame, 'topology'> | Omit<RedirectFrame, 'topology'>, t: AgentTopology, clientEpoch: number | undefined): string {
  const text = encodeFrame(frame as ReconnectFrame | RedirectFrame);
  if (clientEpoch !== undefined && clientEpoch >= t.epoch) return text;
  return `${text.slice(0, -1)},"topology":${topologyJson(t)}}`;
}
