// The body of `GET /topology`, also carried inside move frames: its shape, and the checks a client runs before
// trusting one. Building the ring from `ring` is @wsring/ring's job (`loadRing`), not the protocol's.
import type { RingSnapshot } from '@wsring/ring';
import { ProtocolError } from './errors.js';
import { isMemberState, type MemberState } from './member-state.js';
import { PROTOCOL_VERSION } from './version.js';

/** A node as `/topology` lists it. */
export interface TopologyNode {
  id: string;
  url: string;
  weight: number;
  state: MemberState;
}

/** Body of `GET /topology`. `ring` places users; its nodes carry their WebSocket URL in `meta.url`. */
export interface Topology {
  protocol: number;
  epoch: number;
  fingerprint: string;
  ring: RingSnapshot;
  nodes: TopologyNode[];
  /**
   * The fleet's Ed25519 signature (base64url) over the rest of the body, when the agents sign their topologies
   * (topology-signature.ts). A client given the fleet's public key trusts only signed topologies.
   */
  signature?: string;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** A value for an error message. Not String(): a parsed object may carry its own `toString` key. */
function describe(x: unknown): string {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return `a ${typeof x}`;
  }
}

/** Whether `url` parses as a ws: or wss: URL. */
export function isWebSocketUrl(url: unknown): url is string {
  if (typeof url !== 'string') return false;
  try {
    const { protocol } = new URL(url);
    return protocol === 'ws:' || protocol === 'wss:';
  } catch {
    return false;
  }
}

function isTopologyNode(x: unknown): x is TopologyNode {
  if (!isRecord(x)) return false;
  const { id, url, weight, state } = x;
  return typeof id === 'string' && id.length > 0 && isWebSocketUrl(url) && typeof weight === 'number' && Number.isFinite(weight) && weight > 0 && isMemberState(state);
}

/**
 * Check a `/topology` body and return it as a Topology. Throws ProtocolError `BAD_TOPOLOGY` unless it has this
 * protocol version, a numeric epoch, a string fingerprint and a ring object with at least one node, each with a
 * ws(s) `meta.url`. The ring snapshot itself is checked when it is loaded (`loadRing`). `nodes` only adds
 * endpoints outside the ring, so entries that are not valid TopologyNodes are dropped rather than failing a
 * topology whose ring can place every user.
 */
export function parseTopology(body: unknown): Topology {
  const bad = (why: string) => new ProtocolError('BAD_TOPOLOGY', why);
  if (!isRecord(body)) throw bad('not an object');
  const { protocol, epoch, fingerprint, ring, nodes, signature } = body;
  if (protocol !== PROTOCOL_VERSION) throw bad(`protocol ${describe(protocol)}, expected ${PROTOCOL_VERSION}`);
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) throw bad('no epoch (a non-negative safe integer)');
  if (typeof fingerprint !== 'string') throw bad('no string fingerprint');
  if (!isRecord(ring)) throw bad('no ring');
  if (!Array.isArray(ring.nodes) || ring.nodes.length === 0) throw bad('ring has no nodes');
  ring.nodes.forEach((node: unknown, i) => {
    if (!isRecord(node) || !isRecord(node.meta) || !isWebSocketUrl(node.meta.url)) {
      throw bad(`ring node ${isRecord(node) ? describe(node.id) : `#${i}`} has no ws(s) meta.url`);
    }
  });
  return {
    protocol,
    epoch: epoch as number,
    fingerprint,
    ring: ring as unknown as RingSnapshot,
    nodes: Array.isArray(nodes) ? nodes.filter(isTopologyNode).map(({ id, url, weight, state }) => ({ id, url, weight, state })) : [],
    ...(typeof signature === 'string' ? { signature } : {}),
  };
}

/** Node id -> WebSocket URL for every node a topology names: the ring's (`meta.url`), then those outside it. */
export function topologyUrls(topology: Topology): Map<string, string> {
  const urls = new Map<string, string>();
  for (const node of topology.ring.nodes) {
    const url = node.meta?.url;
    if (isWebSocketUrl(url)) urls.set(node.id, url);
  }
  for (const node of topology.nodes) if (!urls.has(node.id)) urls.set(node.id, node.url);
  return urls;
}
