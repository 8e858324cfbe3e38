import type { TopologySigningKey } from './topology-signer.js';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Ring, RingOptions } from '@wsring/ring';
import type { ConnectParams, MemberState, TopologyNode } from '@wsring/protocol';
import type { Clock } from './clock.js';
import type { DeliveryOptions } from './delivery/options.js';
import type { Published, PublishOptions } from './delivery/publisher.js';
import type { AdminJwtOptions } from './fleet-page/access.js';

// The member states are the protocol's: membership records and /topology share them.
export type { MemberState };

/** One agent's membership record (the JSON value under `members.<id>` in the KV bucket). */
export interface MemberRecord {
  id: string;
  /** Public WebSocket URL clients connect to. */
  url: string;
  weight: number;
  state: MemberState;
  /** When the agent started, ms since the epoch on the agent's own clock (informational). */
  startedAt: number;
  /** Heartbeat counter, incremented on every refresh. */
  seq: number;
  /**
   * Moved users per second this node accepts, all senders together (its receiver budget; see docs/protocol.md,
   * "Receiver budgets"). Absent in records of older agents: the default applies.
   */
  acceptRate?: number;
  /**
   * Set by a process that restarts in place: keep this member in placement this long after this record arrives,
   * heartbeats or not, so its users find it again when the next process starts (bounded; docs/protocol.md).
   */
  holdMs?: number;
  /** Connections held and the capacity, as of the latest heartbeat: whether the node has room for users to come back (absent from older agents). */
  connections?: number;
  capacity?: number;
}

/** The fleet-wide epoch label: which ring fingerprint the current epoch number stands for. */
export interface StoredTopology {
  epoch: number;
  fingerprint: string;
}

export type MembershipEvent =
  /** A record was written. `ageMs` is set for records of a (re)sync snapshot: how much older than the snapshot's newest record it is. */
  | { type: 'put'; record: MemberRecord; ageMs?: number }
  | { type: 'delete'; id: string }
  | { type: 'topology'; stored: StoredTopology; revision: number }
  /** The initial state has been delivered. */
  | { type: 'synced' }
  /** The connection to the membership store is lost: heartbeats cannot be judged. */
  | { type: 'disconnected' }
  /** The connection is back and the current state has been delivered again. */
  | { type: 'reconnected' }
  /** A record under `key` was not valid (`reason`: the field it failed on) and is not applied. */
  | { type: 'ignored'; key: string; reason: string };

/**
 * Where members register and watch each other. `NatsMembership` is the production one;
 * `MemoryMembership` serves embedded use (several agents in one process) and tests.
 */
export interface Membership {
  /** Create or refresh this member's record. */
  put(record: MemberRecord): Promise<void>;
  /** Remove a member's record. */
  remove(id: string): Promise<void>;
  /** Deliver current records (then `synced`) and every later change to `listener`. Returns a stop function. */
  watch(listener: (event: MembershipEvent) => void): Promise<() => void>;
  /** The stored topology label and its revision, or null if none has been written. */
  readTopology(): Promise<{ stored: StoredTopology; revision: number } | null>;
  /** Write `next` only if the stored revision is still `revision` (0: only if none exists). Returns whether it was written. */
  casTopology(next: StoredTopology, revision: number): Promise<boolean>;
  /** Release the connection (for a membership the agent created itself). */
  close(): Promise<void>;
  /**
   * Handoff deploys (docs/operations.md). A second process started under a serving node's id writes its record
   * here, under `successors.<id>`, instead of over the serving one's; the fleet's placement never reads it.
   * Optional: a membership without these knows no successors (a second process is then a duplicate).
   */
  putSuccessor?(record: MemberRecord): Promise<void>;
  removeSuccessor?(id: string): Promise<void>;
  /** The member and successor records under `id`, each with when the store wrote it (the store's clock, ms). */
  readRecords?(id: string): Promise<StoredRecords>;
}

/** What `Membership.readRecords` returns: both stamps are on the store's clock, so only their difference means anything. */
export interface StoredRecords {
  member?: { record: MemberRecord; writtenAt: number };
  successor?: { record: MemberRecord; writtenAt: number };
}

/** The placement the agent currently serves with. */
export interface AgentTopology {
  epoch: number;
  fingerprint: string;
  ring: Ring;
  /** Members in the ring and draining members still serving, sorted by id. */
  nodes: TopologyNode[];
}

export interface PacingOptions {
  /** Targeted reconnect frames per second this agent sends, to all receivers together, sustained (a sender's ceiling; `burst` more may go at once). Default 1000. */
  ratePerSec?: number;
  /** Frames that may go out back to back before the rate applies (this sender's bucket depth; each receiver's lane still holds its own). Default 250 ms of `ratePerSec` (`senderBurst`), 250 at the default rate. */
  burst?: number;
  /** Each reconnect waits a uniform random 0..jitterMs before it queues for a token. Default 250. */
  jitterMs?: number;
  /** A client still connected this long after its reconnect frame is closed with MOVED. Default 5000. */
  graceMs?: number;
}

export interface MessageRateOptions {
  /** Sustained client frames per second per connection. Default 50. */
  perSec?: number;
  /** Frames a connection may send back to back. Default 100. */
  burst?: number;
}

export interface NatsOptions {
  /** One or more server URLs, for example `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** KV bucket holding membership. Default `wsring`. */
  bucket?: string;
  /** Any further options for `@nats-io/transport-node`'s `connect` (user, pass, token, tls...). */
  connect?: Record<string, unknown>;
  /** Replicas of the membership bucket on a NATS cluster (1-5; use 3 on a 3-server cluster). Default: 1 for a new bucket, an existing one as it is. */
  replicas?: number;
  /** Longest one membership store step may take (a request, reopening the watch, its snapshot) before it is retried. Default 5000. */
  stepTimeoutMs?: number;
}

/**
 * Who a connecting client is. Return null (or throw) to refuse with UNAUTHORIZED; throw
 * AuthUnavailableError when it cannot decide now (the client gets INTERNAL_ERROR and retries).
 */
export type Authenticate = (request: IncomingMessage, params: ConnectParams) => Promise<AuthIdentity | null> | AuthIdentity | null;

/** Who a connection is, and until when (`expiresAt`, ms since the Unix epoch) it may stay: the agent closes it TOKEN_EXPIRED then. */
export interface AuthIdentity {
  userId: string;
  expiresAt?: number;
}

/** The minimal logger the agent writes to (pino's signature). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface AgentOptions {
  /** Node id: stable across restarts, 1-64 of [A-Za-z0-9_-]. Placement depends on it. */
  id: string;
  /** Public WebSocket URL clients use for this node. Default: derived from the bound port when the agent listens itself. */
  url?: string;
  /** Relative capacity for placement. Default 1. */
  weight?: number;
  /** NATS connection: membership lives in a JetStream KV bucket. */
  nats?: NatsOptions;
  /** Or a membership instance (for example `new MemoryMembership()` shared by agents in one process). */
  membership?: Membership;
  /** Attach to the app's `ws` WebSocketServer or http.Server instead of listening. */
  server?: WebSocketServer | HttpServer;
  /** Listen on this port (0: any free one) when no `server` is given. Default 0. */
  port?: number;
  /** Default `0.0.0.0`. */
  host?: string;
  /** Pending-connection queue when the agent listens itself (the kernel caps it at somaxconn). Default 4096. */
  listenBacklog?: number;
  /** WebSocket path on an http server. Default `/ws`. */
  path?: string;
  /** Serve /topology, /healthz and /metrics on the http server. Default true. */
  serveHttp?: boolean;
  /** Prefix of the HTTP endpoints. Default ''. */
  httpPrefix?: string;
  /** Decides who a connection belongs to. Default: trusts the `user` query parameter (development only). */
  authenticate?: Authenticate;
  /** `authenticate` answering later than this closes the connection with INTERNAL_ERROR (retryable). Default 10000. */
  authTimeoutMs?: number;
  /**
   * The fleet's Ed25519 private key (a PKCS#8 PEM, the raw 32-byte seed or its base64, or a KeyObject): the agent
   * signs the topology it serves on /topology and inlines in move frames, and adopts a peer's topology (while cut
   * off from the store) only when signed by it. Clients given the public key (`topologyKey`) then trust exactly
   * the signed topologies. Default: none (unsigned; clients trust only what they fetch from their bootstrap URLs).
   */
  topologySigningKey?: TopologySigningKey;
  /**
   * Sessions (sockets, all users together) this node holds before new users spill over to the next node. A further
   * session of a user already here is refused OVER_CAPACITY rather than spilled (a user's sessions share a node).
   * Default 10000.
   */
  capacity?: number;
  /**
   * Sessions (tabs, devices) one user may hold on its node; past it the user's oldest session is closed
   * `4006 SESSION_LIMIT` (final in the SDK). Default 16.
   */
  maxSessionsPerUser?: number;
  /**
   * Stand-ins (users held here because their owner was unreachable or full) go back to their owner once it has
   * served for this long, has room (below 90% of its capacity) and the user has been here this long; a user that
   * bounces waits twice as long each time (up to 32x). Default 30000.
   */
  convergeAfterMs?: number;
  /**
   * Moved users per second this node accepts from all senders together, declared in its membership record.
   * Every sender paces its moves to this node at its share of it. Default 1000.
   */
  acceptRate?: number;
  /**
   * Authenticated sockets are admitted at most `acceptRate` per second (a burst of 50 ms of it), first in first
   * out, whoever sent them: a node whose event loop stalled does not admit the handshakes queued meanwhile at
   * once. This is the longest one waits before it is let through anyway (counted in
   * `wsring_admission_overflows_total`); keep it under the clients' connect timeout (10 s). 0 turns the gate off.
   * Default 5000.
   */
  admissionWaitMs?: number;
  /**
   * For this long after it begins serving, the node declares less than `acceptRate` in its record: a fifth at
   * first, rising linearly to the whole (written with each heartbeat), so senders go easy on a process that is
   * still warming up. 0: the whole rate at once. Default 5000.
   */
  warmupMs?: number;
  pacing?: PacingOptions;
  /** Membership changes within this window are batched into one rebalance. Default 1000. */
  settleMs?: number;
  /** Interval between membership record refreshes. Default 1000. */
  heartbeatMs?: number;
  /**
   * How long after a restarted node's new process begins serving a client's report that the node is
   * unreachable may still be about the process before it (docs/protocol.md, "A node that restarts before the
   * fleet times it out"): the store's delay in telling the agents plus one client hop. Longer sends more
   * stand-ins back to a node that only just came up; shorter may keep some away from it. Default 250.
   */
  restartWindowMs?: number;
  /** A member not refreshed for this long is gone. At least 2x heartbeatMs. Default 4000. */
  livenessTimeoutMs?: number;
  /** Largest client frame in bytes; larger ones close with 1009. Default 65536. */
  maxPayload?: number;
  messageRate?: MessageRateOptions;
  /** Largest number of node ids accepted in the `unreachable` connect parameter. Default 8. */
  maxUnreachable?: number;
  /** `resume` frames per connection (each replays stored messages); more close RATE_LIMITED. Default 1/s, burst 5. */
  resumeRate?: MessageRateOptions;
  /** A TCP connection that has not sent a complete request or WebSocket upgrade within this is dropped. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Open TCP connections accepted from one remote address; more are dropped at once. Default 5000. */
  maxConnectionsPerAddress?: number;
  /** Members kept from the membership store; records of further node ids are ignored with a warning. Default 1000. */
  maxMembers?: number;
  /**
   * Origins (`wss://nodes.example.com`, `ws://10.0.0.5:8080`) member URLs must have: a record naming any other is
   * ignored with a warning, so a store writer cannot send clients elsewhere. This node's own `url` must fit. Default: any.
   */
  allowedOrigins?: string[];
  /**
   * Cut off from the store past the liveness timeout, an agent asks its peers' /topology whether the fleet moved on
   * without it. With `topologySigningKey` it adopts only a ring the fleet signed. Without a key the answers are
   * unsigned and anyone who can answer on a peer's address could move this node's users: by default they are not
   * trusted and the node keeps its users until the store is back. True: adopt unsigned peers' rings (a network
   * where peers' addresses cannot be spoofed). Default false.
   */
  followUnsignedPeers?: boolean;
  /** Placement options; every agent of a fleet must use the same. Default: `ring`, seed 0. */
  ring?: RingOptions;
  /** Default for `restartInPlace()`'s `backInMs`: when the next process is expected to serve. Default 10000. */
  restartBackInMs?: number;
  /** Default for `drain()`'s deadline. Default 30000. */
  drainDeadlineMs?: number;
  /** `createAgent` fails with MEMBERSHIP_UNAVAILABLE if it holds no topology this long after starting. Default 15000. */
  startTimeoutMs?: number;
  /**
   * Per-user delivery through NATS JetStream (replay store, live path, positions): on by default when the agent
   * has a NATS connection (`nats`); `false` turns it off. See docs/delivery.md.
   */
  delivery?: DeliveryOptions | false;
  /** Application messages from clients (rate limited per connection by `messageRate`). */
  onMessage?: (userId: string, data: unknown, connection: Connection) => void;
  logger?: Logger;
  /** The agent's time: every timer and reading of its flow. Default: real time. Tests pass a manual clock. */
  clock?: Clock;
  // ---- fleet page (fleet-page/, docs/fleet-page.md) ----
  /**
   * Serve the fleet page (`/fleet`), its live feed and the live preview to whoever presents this credential
   * (compared in constant time). Unset: the page does not exist (404). Give it 32+ random characters.
   */
  adminToken?: string;
  /**
   * Also admit as admin whoever presents a JWT, verified with these keys, whose role claim (`role`, or the list
   * `roles`) holds `role` (default `wsring-admin`). Either this or `adminToken` turns the page on.
   */
  adminJwt?: AdminJwtOptions;
}

/** A client connection held by this agent. */
export interface Connection {
  readonly userId: string;
  /** This socket's session id (one per tab or device of the user), as sent in its welcome. */
  readonly sessionId: string;
  readonly socket: WebSocket;
  /** Whether this node holds the user as a fail-over or spill-over stand-in rather than as its owner. */
  readonly standIn: boolean;
  readonly connectedAt: number;
  /** Send an application message frame. Returns false if the socket is no longer open. */
  send(data: unknown): boolean;
}

export interface RebalanceEvent {
  epoch: number;
  fingerprint: string;
  /** Local users asked to reconnect elsewhere. */
  moved: number;
  /** Time the plan took, ms. */
  planMs: number;
}

export interface AgentEvents {
  topology: [AgentTopology];
  rebalance: [RebalanceEvent];
  /** All reconnect frames of the rebalances so far have gone out. */
  'rebalance-sent': [{ epoch: number; sent: number; durationMs: number }];
  connection: [Connection];
  disconnection: [{ userId: string; code: number }];
  membership: [{ connected: boolean }];
}

export type AgentState = 'starting' | 'serving' | 'draining' | 'closed';

/** What the agent knows of its membership store. */
export interface StoreHealth {
  /** The NATS connection (or in-memory store) is up. */
  connected: boolean;
  /** The latest heartbeat write failed. */
  heartbeatFailing: boolean;
  /**
   * Why placement is frozen (no member is timed out; the ring stays as it is), or null when liveness is judged:
   * `store-disconnected`, `own-heartbeat-missing` (this node's own heartbeats stopped coming back: the store is
   * slow, electing, or unwritable), `not-yet-synced`.
   */
  placementFrozen: 'store-disconnected' | 'own-heartbeat-missing' | 'not-yet-synced' | null;
}

export interface HealthReport {
  id: string;
  state: AgentState;
  /** Open sessions (sockets); what `capacity` bounds. */
  connections: number;
  /** Users with at least one open session. */
  users: number;
  capacity: number;
  epoch: number;
  /** Nodes in the ring this node serves with. */
  ringNodes: number;
  membershipConnected: boolean;
  store: StoreHealth;
  /**
   * Connections this node accepted: in the last complete second, the most in any one-second window of the last
   * ten (100 ms resolution, this node's clock), and since start. During a change, compare `peakPerSec` with the
   * node's acceptRate (docs/protocol.md states the bound).
   */
  arrivals: { perSec: number; peakPerSec: number; total: number };
  /**
   * The admission gate: sockets waiting now for their turn within the accept rate, sockets that waited at all, and
   * sockets let through past `admissionWaitMs` without a turn (each one an arrival above the accept rate).
   */
  admissionGate: { waiting: number; queued: number; overflowed: number };
}

export interface Agent {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly state: AgentState;
  /** The topology the agent serves with. */
  readonly topology: AgentTopology;
  /** The public half of `topologySigningKey` (raw 32 bytes, base64url), for clients' `topologyKey`; undefined when unsigned. */
  readonly topologyPublicKey: string | undefined;
  /** Open client sessions (sockets); a user may hold several. */
  readonly connections: number;
  /** Users with at least one open session here. */
  readonly users: number;
  /** The port the agent listens on, when it listens itself. */
  readonly port: number | undefined;
  /**
   * Store a message for a user and deliver it to each of the user's sessions (sockets) on whichever node holds
   * them, to each exactly once and in order, now or on its next connect within the retention window. Resolves once JetStream has stored it.
   * Throws DeliveryError (STORE_UNAVAILABLE while NATS is down, NO_STORE without delivery).
   */
  publish(userId: string, data: unknown, options?: PublishOptions): Promise<Published>;
  /** Send an unlogged application message to every local session of a user (no position, no replay). Returns false if the user has no open session here. */
  sendTo(userId: string, data: unknown): boolean;
  /** The user's newest local session, if any. */
  connection(userId: string): Connection | undefined;
  /** Every local session of a user, oldest first. */
  sessions(userId: string): readonly Connection[];
  health(): HealthReport;
  /** Answers the agent's HTTP endpoints; returns false for other requests (for apps that route themselves). */
  handleHttp(req: IncomingMessage, res: import('node:http').ServerResponse): boolean;
  /**
   * Restart in place (a deploy that keeps the node): the fleet keeps this node in placement for `backInMs` plus a
   * liveness timeout; every user is told to come back to this same node after `backInMs` plus its own slot (spread
   * at this node's accept rate) and closed `4005 RESTARTING`; then the agent stops without deregistering. The next
   * process with the same id (and URL) takes the users back; replay covers the gap. Past the hold, normal failover.
   * One slot per user: all sessions of a user come back together. Returns the users (not sessions) and the slots' spread.
   */
  restartInPlace(options?: { backInMs?: number }): Promise<{ users: number; spreadMs: number }>;
  /** Move every user off this node, deregister, resolve when empty or at the deadline. */
  drain(options?: { deadlineMs?: number }): Promise<{ remaining: number }>;
  /** The record of a live successor waiting under this node's id (a handoff deploy), if any. */
  successor(): Promise<MemberRecord | undefined>;
  /**
   * Handoff deploy: hand every user to the successor (same node id, its URL), paced at its accept rate, then stop
   * and leave the id's record to it. Rejects with AgentError('NO_SUCCESSOR') when none waits. docs/operations.md.
   */
  handoff(options?: { deadlineMs?: number }): Promise<{ users: number; remaining: number }>;
  /** Stop at once: closes connections with GOING_AWAY, deregisters, releases NATS. */
  close(): Promise<void>;
  on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): this;
  off<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): this;
  once<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): this;
}
