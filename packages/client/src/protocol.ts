// The wire protocol between @wsring/client and @wsring/node-agent, defined once for both.
// Every frame is one JSON text message with a `type` field. docs/protocol.md is the prose form of this file.
import type { RingSnapshot } from '@wsring/ring';

export const PROTOCOL_VERSION = 1;

/** Close codes. 1000-1011 are RFC 6455's; 4000-4999 are wsring's. */
export const CloseCode = {
  /** Client or agent closed normally. */
  NORMAL: 1000,
  /** The agent is shutting down. Reconnect (to the owner under a fresh topology). */
  GOING_AWAY: 1001,
  /** A frame exceeded the agent's maxPayload (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The agent failed unexpectedly. Reconnect with backoff. */
  INTERNAL_ERROR: 1011,
  /** A `reconnect` frame named the new owner and the client did not leave within the grace period. */
  MOVED: 4000,
  /** This node is not the user's owner; a `redirect` frame preceded this close. */
  REDIRECT: 4001,
  /** This node and the user's spill-over candidates are at capacity. Retry with backoff. */
  OVER_CAPACITY: 4002,
  /** This node is draining and takes no new users; a `redirect` frame preceded this close when an owner is known. */
  DRAINING: 4003,
  /** The same user opened a newer connection on this node; the older one is closed. */
  REPLACED: 4004,
  /** A frame was not valid JSON or not a valid frame. */
  BAD_FRAME: 4400,
  /** The token was missing, invalid or expired. Do not retry with the same token. */
  UNAUTHORIZED: 4401,
  /** The client sent frames faster than the agent's per-connection limit. */
  RATE_LIMITED: 4429,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Close codes after which a client must not reconnect on its own: a rejected token, and a newer connection of
 * the same user (reconnecting would take the slot back and start a tug of war between the two).
 */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.REPLACED]);

/** A node as `/topology` lists it. */
export interface TopologyNode {
  id: string;
  url: string;
  weight: number;
  state: 'joining' | 'active' | 'draining';
}

/** Body of `GET /topology`. `ring` places users; its nodes carry their WebSocket URL in `meta.url`. */
export interface Topology {
  protocol: number;
  epoch: number;
  fingerprint: string;
  ring: RingSnapshot;
  nodes: TopologyNode[];
}

// ---- server -> client ----

/** First frame on an accepted connection. */
export interface WelcomeFrame {
  type: 'welcome';
  node: string;
  epoch: number;
  fingerprint: string;
  /** Whether this node accepted the user as a fail-over or spill-over target rather than as its owner. */
  standIn?: boolean;
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

export type ServerFrame = WelcomeFrame | RedirectFrame | ReconnectFrame | MessageFrame | GapFrame | SyncedFrame | CheckpointFrame | ErrorFrame | PongFrame;

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

/** Query parameters of the WebSocket URL a client opens. */
export interface ConnectParams {
  /** The user id the client claims; with token authentication the token's subject decides. */
  user: string;
  token?: string;
  /** The topology epoch the client computed its owner from. */
  epoch?: number;
  /** Node ids the client found unreachable; lets the next node of its preference list accept it. */
  unreachable?: string[];
  /** Last delivery position the client has (for replay). */
  last?: number;
}

export class ProtocolError extends Error {
  constructor(readonly code: 'BAD_JSON' | 'BAD_FRAME' | 'UNKNOWN_FRAME', message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeFrame(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame);
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_JSON', 'frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtocolError('BAD_FRAME', 'frame is not a JSON object');
  const obj = value as Record<string, unknown>;
  if (typeof obj.type !== 'string') throw new ProtocolError('BAD_FRAME', 'frame has no string `type`');
  return obj;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
/**
 * Any JSON value as text. Not String(): a parsed object may carry its own `toString` or `valueOf` key, and
 * String() on it then throws a TypeError instead of the ProtocolError callers expect.
 */
const asText = (x: unknown): string => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x));
/** A delivery position: a non-negative safe integer. */
const isPos = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Looks like a `/topology` body (an object with a ring object); `loadTopology` in the client checks the rest. */
function isTopologyShaped(x: unknown): x is Topology {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const ring = (x as Record<string, unknown>).ring;
  return ring !== null && typeof ring === 'object' && !Array.isArray(ring);
}

/** Parse and validate a frame sent by a client. Throws ProtocolError. */
export function decodeClientFrame(text: string): ClientFrame {
  const f = parseObject(text);
  switch (f.type) {
    case 'message':
      if (!('data' in f)) throw new ProtocolError('BAD_FRAME', 'message frame without data');
      return { type: 'message', data: f.data };
    case 'ping':
      return { type: 'ping', ts: isNum(f.ts) ? f.ts : 0 };
    case 'resume':
      if (!isPos(f.last)) throw new ProtocolError('BAD_FRAME', 'resume frame needs `last`, a non-negative integer');
      return { type: 'resume', last: f.last };
    default:
      throw new ProtocolError('UNKNOWN_FRAME', `unknown frame type ${JSON.stringify(f.type).slice(0, 64)}`);
  }
}

/** Parse and validate a frame sent by an agent. Throws ProtocolError. */
export function decodeServerFrame(text: string): ServerFrame {
  const f = parseObject(text);
  switch (f.type) {
    case 'welcome':
      if (!isStr(f.node) || !isNum(f.epoch) || typeof f.fingerprint !== 'string') throw new ProtocolError('BAD_FRAME', 'bad welcome frame');
      return { type: 'welcome', node: f.node, epoch: f.epoch, fingerprint: f.fingerprint, standIn: f.standIn === true };
    case 'redirect':
    case 'reconnect':
      if (!isStr(f.node) || !isStr(f.url) || !isNum(f.epoch) || typeof f.fingerprint !== 'string') throw new ProtocolError('BAD_FRAME', `bad ${f.type} frame`);
      {
        // An inline topology is only shaped here; the client validates it (ring, fingerprint, target) before use.
        const topology = isTopologyShaped(f.topology) ? { topology: f.topology } : {};
        if (f.type === 'redirect') {
          const reason = f.reason === 'draining' || f.reason === 'capacity' ? f.reason : 'not-owner';
          return { type: 'redirect', node: f.node, url: f.url, epoch: f.epoch, fingerprint: f.fingerprint, reason, ...topology };
        }
        return { type: 'reconnect', node: f.node, url: f.url, epoch: f.epoch, fingerprint: f.fingerprint, graceMs: isNum(f.graceMs) ? f.graceMs : 0, ...topology };
      }
    case 'message':
      if (!('data' in f)) throw new ProtocolError('BAD_FRAME', 'message frame without data');
      if (!isPos(f.pos)) return { type: 'message', data: f.data };
      return isPos(f.prev) ? { type: 'message', data: f.data, pos: f.pos, prev: f.prev } : { type: 'message', data: f.data, pos: f.pos };
    case 'gap':
      if (!isPos(f.from) || !isPos(f.to) || f.to < f.from) throw new ProtocolError('BAD_FRAME', 'bad gap frame');
      return { type: 'gap', from: f.from, to: f.to, certain: f.certain === true };
    case 'synced':
    case 'checkpoint':
      if (!isPos(f.pos)) throw new ProtocolError('BAD_FRAME', `bad ${f.type} frame`);
      return { type: f.type, pos: f.pos };
    case 'error':
      return { type: 'error', code: asText(f.code), message: asText(f.message ?? '') };
    case 'pong':
      return { type: 'pong', ts: isNum(f.ts) ? f.ts : 0 };
    default:
      throw new ProtocolError('UNKNOWN_FRAME', `unknown frame type ${JSON.stringify(f.type).slice(0, 64)}`);
  }
}

/** The URL a client opens on a node: the node's WebSocket URL plus ConnectParams as query parameters. */
export function connectUrl(nodeUrl: string, params: ConnectParams): string {
  const url = new URL(nodeUrl);
  url.searchParams.set('user', params.user);
  if (params.token !== undefined) url.searchParams.set('token', params.token);
  if (params.epoch !== undefined) url.searchParams.set('epoch', String(params.epoch));
  if (params.unreachable?.length) url.searchParams.set('unreachable', params.unreachable.join(','));
  if (params.last !== undefined) url.searchParams.set('last', String(params.last));
  return url.toString();
}

/** Read ConnectParams back from a request URL (path and query). Missing user gives ''. */
export function parseConnectParams(search: URLSearchParams): ConnectParams {
  const num = (k: string) => {
    const v = search.get(k);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const unreachable = search.get('unreachable');
  return {
    user: search.get('user') ?? '',
    token: search.get('token') ?? undefined,
    epoch: num('epoch'),
    unreachable: unreachable ? unreachable.split(',').filter(Boolean) : undefined,
    last: num('last'),
  };
}
