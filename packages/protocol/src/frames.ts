// The frames of a wsring connection. Every frame is one JSON text message with a `type` field; codec.ts
// encodes and checks them.
import type { Topology } from './topology.js';

// ---- server -> client ----

/** First frame on an accepted connection. */
export interface WelcomeFrame {
  type: 'welcome';
  node: string;
  epoch: number;
  fingerprint: string;
  /** Whether this node accepted the user as a fail-over or spill-over target rather than as its owner. */
  standIn?: boolean;
  /**
   * This socket's session id: one per tab or device of the user. Assigned by the node, or the one the client
   * asked to keep (`session` connect parameter) when it was well formed. Absent from agents older than sessions.
   */
  session?: string;
  /** The user id the node admitted this socket for (the token's subject under token authentication). */
  user?: string;
}

/** This node is not the owner: connect to `url` instead. The agent closes with REDIRECT (or DRAINING) next. */
export interface RedirectFrame {
  type: 'redirect';
  node: string;
  url: string;
  epoch: number;
  fingerprint: string;
  reason: 'not-owner' | 'draining' | 'capacity';
  /** The sender's topology, when the client connected with an older epoch (or none): see `ReconnectFrame.topology`. */
  topology?: Topology;
}

/** The topology changed and the user now belongs to `node`: reconnect there within `graceMs`. */
export interface ReconnectFrame {
  type: 'reconnect';
  node: string;
  url: string;
  epoch: number;
  fingerprint: string;
  graceMs: number;
  /**
   * The topology the frame comes from (the `/topology` body), sent when the client's known epoch is older:
   * the target is typically a node the client has never heard of (a joiner), and this spares it a `/topology`
   * fetch before it moves. The client checks it against the frame before trusting it (docs/protocol.md).
   */
  topology?: Topology;
}

/**
 * An application message. `pos` increases per user (delivery positions: the replay store's sequence); absent for
 * unlogged messages. `prev` is the position of the user's previous message (0: none stored); a client whose last
 * position is below `prev` has missed something and asks for it with a `resume` frame.
 */
export interface MessageFrame {
  type: 'message';
  data: unknown;
  pos?: number;
  prev?: number;
}

/**
 * Positions `from`..`to` (inclusive) are gone from the replay store (older than its retention window) and may
 * have held messages for this user: `certain` when a stored message names a lost predecessor, otherwise the
 * user's history expired whole and the node cannot tell whether the range held anything for it. Sent before
 * the messages that follow the gap; the client's position moves to `to`.
 */
export interface GapFrame {
  type: 'gap';
  from: number;
  to: number;
  certain: boolean;
}

/** The replay after a connect or a `resume` is done: the client has everything stored for it up to `pos`. Live messages follow. */
export interface SyncedFrame {
  type: 'synced';
  pos: number;
}

/**
 * Sent now and then to an idle connection: nothing was stored for this user up to `pos`, so the client's position
 * moves there. Keeps an idle client's position inside the retention window, so a reconnect after a long quiet
 * spell is not reported as a possible loss.
 */
export interface CheckpointFrame {
  type: 'checkpoint';
  pos: number;
}

/** A non-fatal problem with something the client sent (for example an unknown frame type). */
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
}

export interface PongFrame {
  type: 'pong';
  ts: number;
}

/**
 * This node is about to restart in place: come back to it, not elsewhere, once `retryAfterMs` has passed. Each
 * client gets its own delay, spread so the returning users arrive within the node's accept rate. A close
 * `4005 RESTARTING` follows.
 */
export interface RestartFrame {
  type: 'restart';
  retryAfterMs: number;
}

export type ServerFrame = WelcomeFrame | RedirectFrame | ReconnectFrame | MessageFrame | GapFrame | SyncedFrame | CheckpointFrame | ErrorFrame | PongFrame | RestartFrame;

// ---- client -> server ----

/** An application message for the node's handler. */
export interface ClientMessageFrame {
  type: 'message';
  data: unknown;
}

export interface PingFrame {
  type: 'ping';
  ts: number;
}

/** The client received a message whose `prev` is above its last position: replay everything after `last`. */
export interface ResumeFrame {
  type: 'resume';
  last: number;
}

export type ClientFrame = ClientMessageFrame | PingFrame | ResumeFrame;
