import type { Ring } from '@wsring/ring';
import { CloseCode } from '@wsring/protocol';

export type Admission =
  | { kind: 'accept'; standIn: boolean; /** nodes the stand-in must not be sent back to */ avoid: string[] }
  | { kind: 'redirect'; to: string; reason: 'not-owner' | 'draining' | 'capacity'; code: number }
  | { kind: 'refuse'; code: number; reason: string };

export interface AdmissionInput {
  self: string;
  draining: boolean;
  ring: Ring;
  epoch: number;
  /** Highest epoch this node has seen in membership, possibly not yet applied here. */
  knownEpoch: number;
  userId: string;
  clientEpoch: number | undefined;
  unreachable: readonly string[];
  /** The user already has sessions here: its further sessions never spill elsewhere (a user's sessions share a node). */
  alreadyHere: boolean;
  /** This socket takes the place of one of the user's sessions here (the same session again, or the oldest past the limit): no new slot. */
  replacesSession?: boolean;
  /** The node holds `capacity` sessions. */
  full: boolean;
  maxPrefs: number;
}

/**
 * Whether this node takes a connecting user, and where to send it if not. Pure: the same inputs
 * always give the same answer.
 * - The owner accepts. Every other node redirects to the owner: one hop suffices.
 * - A node is accepted as stand-in when every node before it in the user's preference list is one
 *   the client reports unreachable (or full): no ping-pong while membership catches up with a crash.
 * - A client that computed its owner from a newer epoch than this node has applied, but one this
 *   node has already seen announced, is accepted: this node is about to agree, and redirecting it
 *   back to its old node would bounce it.
 * - At capacity (counted in sessions), new users spill to the next node of their preference list. A further
 *   session of a user already here is refused OVER_CAPACITY instead (retried with backoff): spilling it would
 *   split the user's sessions over two nodes. One that replaces a session of the user takes no new slot.
 */
export function decideAdmission(a: AdmissionInput): Admission {
  const { ring, self } = a;
  if (ring.nodes.length === 0) return { kind: 'refuse', code: a.draining ? CloseCode.DRAINING : CloseCode.GOING_AWAY, reason: 'no node to place the user on' };
  const inRing = new Set(ring.nodes.map((n) => n.id));
  const unreachable = new Set(a.unreachable.filter((id) => inRing.has(id) && id !== self));
  const prefs = ring.owners(a.userId, Math.min(ring.nodes.length, a.maxPrefs));
  const firstReachable = prefs.find((id) => !unreachable.has(id));

  if (a.draining) {
    // Until this node's own ring drops it, it may still own the user: send it to the next node instead.
    const to = prefs.find((id) => id !== self && !unreachable.has(id)) ?? prefs.find((id) => id !== self);
    if (to === undefined) return { kind: 'refuse', code: CloseCode.DRAINING, reason: 'draining, and no other node to go to' };
    return { kind: 'redirect', to, reason: 'draining', code: CloseCode.DRAINING };
  }

  const position = prefs.indexOf(self);
  let accept: { standIn: boolean; avoid: string[] } | undefined;
  if (position === 0) accept = { standIn: false, avoid: [] };
  else if (position > 0 && prefs.slice(0, position).every((id) => unreachable.has(id))) accept = { standIn: true, avoid: prefs.slice(0, position) };
  else if (a.clientEpoch !== undefined && a.clientEpoch > a.epoch && a.clientEpoch <= a.knownEpoch) accept = { standIn: true, avoid: [] };

  if (!accept) return { kind: 'redirect', to: firstReachable ?? prefs[0], reason: 'not-owner', code: CloseCode.REDIRECT };
  if (a.full && a.alreadyHere && !a.replacesSession) return { kind: 'refuse', code: CloseCode.OVER_CAPACITY, reason: 'this node is at capacity and holds the user\'s other sessions' };
  if (a.full && !a.alreadyHere) {
    const after = position >= 0 ? prefs.slice(position + 1) : prefs.filter((id) => id !== self);
    const spill = after.find((id) => !unreachable.has(id));
    if (spill === undefined) return { kind: 'refuse', code: CloseCode.OVER_CAPACITY, reason: 'this node and its spill-over candidates are full' };
    return { kind: 'redirect', to: spill, reason: 'capacity', code: CloseCode.REDIRECT };
  }
  return { kind: 'accept', ...accept };
}
