import type { Ring } from '@wsring/ring';
import type { Topology, TopologyPublicKey } from '@wsring/protocol';
import type { ClientError } from './errors.js';

/** The lifecycle of a client. See README.md for the transitions. */
export type ClientState =
  /** Fetching `/topology` from a bootstrap URL. */
  | 'bootstrapping'
  /** A socket to the owner (or a fail-over node) is open or opening; waiting for `welcome`. */
  | 'connecting'
  /** Welcomed by a node; `send()` works. */
  | 'open'
  /** Following a `reconnect` or `redirect` frame: a socket to the named node is opening; waiting for `welcome`. */
  | 'moving'
  /** Waiting out a backoff delay before the next attempt. */
  | 'reconnecting'
  /** Closed by the application or by a terminal close code. Final. */
  | 'closed';

/** Why the client changed node. */
export type MoveReason =
  /** The node sent a `reconnect` frame after a topology change. */
  | 'reconnect'
  /** The node answered a connect with a `redirect` frame (not the owner, draining, or at capacity). */
  | 'redirect'
  /** The node was unreachable or dropped the connection; the client went to another node of its preference list. */
  | 'failover';

/** The part of the WebSocket API the client uses: browsers' WebSocket and `ws` both provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type FetchLike = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

/**
 * Time and timers, injectable so tests can drive time. The same interface as @wsring/node-agent's `Clock`:
 * `now()` in ms (the client only stamps pings with it), and timers whose handles only the clock understands.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** @deprecated Use `Clock` and the `clock` option. The timer half of a Clock. */
export type Timers = Pick<Clock, 'setTimeout' | 'clearTimeout'>;

export interface BackoffOptions {
  /** First delay ceiling in ms. Default 250. */
  baseMs?: number;
  /** Largest delay ceiling in ms. Default 30,000. */
  capMs?: number;
}

export interface ClientOptions {
  /**
   * The user id; it decides the node. 1 to MAX_USER_ID_LENGTH UTF-16 code units of well-formed text (no unpaired
   * surrogate), else createClient throws ClientError `INVALID_USER`. When the node echoes the user it
   * authenticated (with token authentication: the token's subject) and that is another one, the client reports
   * `USER_MISMATCH` and closes for good.
   */
  user: string;
  /**
   * A token, or a function returning one, called before every connect. A node closes `4440 TOKEN_EXPIRED` when
   * the token expires: a client with a function then gets a fresh token and reconnects; one with a fixed string
   * cannot and closes for good. `4401 UNAUTHORIZED` (a rejected token) is final either way.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * The fleet's Ed25519 public key (raw 32 bytes, their base64/base64url, an SPKI PEM, or a CryptoKey), or several
   * during a key rotation. With it the client trusts only topologies the fleet signed, wherever they come from:
   * fetched from `bootstrap`, or inside a move frame (which it then follows at once, without a fetch). Without
   * it, it trusts only the topologies it fetches from `bootstrap` itself. See docs/protocol.md, "Trust".
   */
  topologyKey?: TopologyPublicKey | TopologyPublicKey[];
  /**
   * A move frame naming a node the client's topology lists is followed at once only if its epoch is at most this
   * far ahead of the client's; a frame further ahead is confirmed by refetching the topology first. Default 16.
   */
  maxEpochLead?: number;
  /**
   * A move frame the client cannot check (unsigned, to a node or URL its topology does not list) waits for a refetched
   * topology to confirm it. A bootstrap node that has not applied the change yet (a handoff's successor URL reaches
   * every agent within about a settle window) does not confirm it: the open client asks again this many times,
   * `moveConfirmDelayMs` x 2^k apart, at most 30 s (250, 500, 1,000, 2,000 ms by default: 3.75 s of waits, plus each
   * refetch's own time; the sender's grace close, 5 s by default, may end the socket first), before it drops the move. 0: drop at the first refetch that does not confirm it. Default 4.
   */
  moveConfirmRetries?: number;
  /** The first wait of `moveConfirmRetries`, ms; each further one doubles. Default 250. */
  moveConfirmDelayMs?: number;
  /** http(s) URLs of any agents (ws(s) URLs are accepted and mapped); `/topology` is fetched from them in turn. */
  bootstrap: string[];
  /** WebSocket constructor. Default: the global `WebSocket` (browsers, Node >= 22); the Node entry defaults to `ws`. */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Exponential backoff with full jitter between attempts: delay = random() * min(capMs, baseMs * 2^(attempt-1)). */
  backoff?: BackoffOptions;
  /** How many nodes of the preference list to try, owner first, before backing off. Default 3. */
  failoverDepth?: number;
  /** Consecutive redirects followed before the client backs off and refetches the topology. Default 3. */
  maxRedirects?: number;
  /** ms to wait for `welcome` after opening a socket before treating the node as unreachable. Default 10,000. */
  connectTimeoutMs?: number;
  /**
   * ms between keepalive checks of an open connection: after an interval with no frame from the node the client
   * sends a `ping`; after a second one it treats the connection as dead and reconnects. Default 25,000.
   */
  pingIntervalMs?: number;
  /** ms to wait for a `/topology` response from one bootstrap URL. Default 5,000. */
  fetchTimeoutMs?: number;
  /** Random numbers in [0, 1) for jitter and bootstrap order. Default Math.random. */
  random?: () => number;
  /** Time and timers. Default `Date.now` and the global setTimeout/clearTimeout. */
  clock?: Clock;
  /** @deprecated Use `clock`. Timers only (the time is then `Date.now`); not together with `clock`. */
  timers?: Timers;
  /** Delivery position to resume from (a `position` saved earlier, for example across page loads). Default: start with new messages. */
  last?: number;
}

/** A topology as the client holds it (one it trusts): the body of `/topology` and the ring built from it. */
export interface LoadedTopology {
  topology: Topology;
  ring: Ring;
  /** Node id -> WebSocket URL, for every node the topology names. */
  urls: ReadonlyMap<string, string>;
}

export interface OpenEvent {
  node: string;
  epoch: number;
  /** Whether the node accepted the user as a stand-in (fail-over or spill-over) rather than as its owner. */
  standIn: boolean;
  /**
   * This client's session id (one per tab or device; a node holds all of a user's sessions and delivers to each).
   * Kept across reconnects and moves. Absent with agents older than sessions.
   */
  session?: string;
  /** The user id the node admitted this client for (the token's subject under token authentication). */
  user: string;
}

export interface MovedEvent {
  from: string;
  to: string;
  reason: MoveReason;
}

export interface ReconnectingEvent {
  /** 1 for the first retry after a failure, counting up until a node welcomes the client. */
  attempt: number;
  delayMs: number;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/** Messages in positions `from`..`to` are lost: they fell out of the replay store's retention window before this client got them. */
export interface GapEvent {
  recovered: false;
  from: number;
  to: number;
  /** true: at least one message for this user is lost. false: the user's history expired whole, the range may have held none. */
  certain: boolean;
}

export interface ClientEvents {
  open: OpenEvent;
  /** An application message, each exactly once and in publish order for logged (positioned) messages. */
  message: unknown;
  gap: GapEvent;
  moved: MovedEvent;
  reconnecting: ReconnectingEvent;
  close: CloseEvent;
  error: ClientError;
  state: ClientState;
}

export interface WsringClient {
  readonly state: ClientState;
  /** The node the client is open on, if it is open. */
  readonly node: string | undefined;
  /** The epoch of the topology the client holds, if any: only a trusted topology sets it, never a frame. */
  readonly epoch: number | undefined;
  /** The last delivery position received; pass it as `last` to a later client to resume from there. */
  readonly position: number | undefined;
  /** This client's session id, once a node has welcomed it (see `OpenEvent.session`). */
  readonly sessionId: string | undefined;
  /** The user id the node admitted, once welcomed. */
  readonly userId: string | undefined;
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  once<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): void;
  /**
   * Send an application message (any JSON value) to the node. Throws ClientError `NOT_OPEN` unless the state is
   * `open`: nothing is queued, so a message is never sent twice or to a node that no longer owns the user.
   */
  send(data: unknown): void;
  /** Close the connection and stop reconnecting. Idempotent. */
  close(code?: number, reason?: string): void;
}
