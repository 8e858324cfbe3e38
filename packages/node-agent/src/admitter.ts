import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { CloseCode, isValidSessionId, type ConnectParams } from '@wsring/protocol';
import { decideAdmission, type Admission } from './admission.js';
import type { Clock } from './clock.js';
import { ClientConnection, type ConnectionRegistry } from './connections.js';
import type { LiveFeed } from './delivery/feed.js';
import type { FledNodes } from './liveness.js';
import type { AgentMetrics } from './metrics.js';
import { moveFrameText } from './topology-json.js';
import type { TopologySigner } from './topology-signer.js';
import { closeWith } from './transport.js';
import type { AgentTopology } from './types.js';

export interface AdmitterOptions {
  self: string;
  /** Sessions this node holds at most (all users together). */
  capacity: number;
  /** Sessions one user may hold here; past it the oldest is closed SESSION_LIMIT. */
  maxSessionsPerUser: number;
  prefsDepth: number;
  /** A fresh session id. Default: 12 random base64url characters. */
  newSessionId?: () => string;
  clock: Clock;
  metrics: AgentMetrics;
  /** Signs the topologies inlined in redirect frames (topology-signer.ts); none: they go unsigned. */
  signer?: TopologySigner;
}

/** What admission reads from and tells the rest of the agent. */
export interface AdmitterParts {
  registry: ConnectionRegistry;
  fled: FledNodes;
  /** Whether the node takes users now, and whether it is draining. */
  serving(): 'serving' | 'draining' | 'not-serving';
  /** While handing off: the successor's URL, where this node's users are sent (see `Agent.handoff`). */
  handoffUrl?(): string | undefined;
  topology(): AgentTopology;
  /** Highest epoch announced in membership, applied here or not. */
  knownEpoch(): number;
  /** Delivery's live feed, if delivery is on. */
  feed(): LiveFeed | undefined;
  /** The user is here anew (a session was accepted), or its last session has gone: nothing queued for it may be sent. */
  settledHere(conn: ClientConnection): void;
  /** One socket of the user closed or was displaced: only its own grace timer goes. */
  socketGone(conn: ClientConnection): void;
  /** A socket taken out of the registry while still open (displaced, closing now): the transport keeps it until it closes. */
  unregistered?(socket: WebSocket): void;
  opened(conn: ClientConnection): void;
  closed(conn: ClientConnection, code: number): void;
}

/**
 * The glue between a connecting socket and the node's state: asks `decideAdmission` (pure) where the user
 * goes, then redirects or refuses with the documented frame and code, or registers the session, closes what it
 * displaces (an older socket of the same session with REPLACED, the user's oldest sessions past the per-user
 * limit with SESSION_LIMIT), welcomes it with its session id and attaches its delivery (its own position).
 */
export class Admitter {
  constructor(private readonly o: AdmitterOptions, private readonly parts: AdmitterParts) {}

  /**
   * Whether this node would take the user's socket now (a session here): only those wait for a turn at the admission
   * gate; a redirect or a refusal costs the node little and goes at once.
   */
  wouldAccept(userId: string, params: ConnectParams): boolean {
    return this.decide(userId, params).kind === 'accept';
  }

  /** Where the user goes now: not served here, handed off to the successor, or `decideAdmission`'s answer. */
  private decide(userId: string, params: ConnectParams): Admission | { kind: 'not-serving' } | { kind: 'handoff'; url: string } {
    const serving = this.parts.serving();
    if (serving === 'not-serving') return { kind: 'not-serving' };
    const t = this.parts.topology();
    const successorUrl = this.parts.handoffUrl?.();
    if (successorUrl !== undefined && t.ring.nodes.length > 0 && t.ring.owner(userId) === this.o.self) return { kind: 'handoff', url: successorUrl };
    const held = this.parts.registry.sessionsOf(userId);
    const asked = isValidSessionId(params.session) ? params.session : undefined;
    return decideAdmission({
      self: this.o.self,
      draining: serving === 'draining',
      ring: t.ring,
      epoch: t.epoch,
      knownEpoch: this.parts.knownEpoch(),
      userId,
      clientEpoch: params.epoch,
      unreachable: params.unreachable ?? [],
      alreadyHere: held.length > 0,
      replacesSession: held.length >= this.o.maxSessionsPerUser || (asked !== undefined && held.some((c) => c.sessionId === asked)),
      full: this.parts.registry.size >= this.o.capacity,
      maxPrefs: this.o.prefsDepth,
    });
  }

  admit(socket: WebSocket, userId: string, params: ConnectParams): ClientConnection | undefined {
    const { metrics } = this.o;
    const { registry } = this.parts;
    const t = this.parts.topology();
    const decision = this.decide(userId, params);
    if (decision.kind === 'not-serving') {
      closeWith(socket, CloseCode.GOING_AWAY, 'not serving', metrics);
      return undefined;
    }
    if (decision.kind === 'handoff') {
      // Handing off: this node's users go to the same node at its successor's URL, the topology along.
      metrics.redirects.inc({ reason: 'draining' });
      if (socket.readyState === socket.OPEN) socket.send(moveFrameText({ type: 'redirect', node: this.o.self, url: decision.url, epoch: t.epoch, fingerprint: t.fingerprint, reason: 'draining' }, t, undefined, this.o.signer));
      closeWith(socket, CloseCode.DRAINING, 'handing off to the successor');
      return undefined;
    }
    const asked = isValidSessionId(params.session) ? params.session : undefined;
    if (decision.kind === 'refuse') {
      closeWith(socket, decision.code, decision.reason, metrics);
      return undefined;
    }
    if (decision.kind === 'redirect') {
      metrics.redirects.inc({ reason: decision.reason });
      if (socket.readyState === socket.OPEN) {
        const url = urlIn(t, decision.to);
        socket.send(moveFrameText({ type: 'redirect', node: decision.to, url, epoch: t.epoch, fingerprint: t.fingerprint, reason: decision.reason }, t, params.epoch, this.o.signer));
      }
      closeWith(socket, decision.code, decision.reason);
      return undefined;
    }
    const sessionId = asked ?? (this.o.newSessionId ?? randomSessionId)();
    const conn = new ClientConnection(userId, socket, decision.standIn, this.o.clock.now(), sessionId);
    // The welcome names t.epoch, and a client behind it refreshes its topology.
    conn.knownEpoch = Math.max(params.epoch ?? 0, t.epoch);
    const { sameSession, overLimit } = registry.add(conn, decision.avoid, this.o.maxSessionsPerUser);
    if (decision.standIn) this.parts.fled.hold(userId, decision.avoid);
    else this.parts.fled.forget(userId);
    if (sameSession) this.displace(sameSession, CloseCode.REPLACED, 'replaced by a newer socket of the same session');
    for (const old of overLimit) this.displace(old, CloseCode.SESSION_LIMIT, `more than ${this.o.maxSessionsPerUser} sessions of this user: the oldest is closed`);
    // A session accepted here: the user belongs here now, so a move queued for it is void (for all its sessions).
    this.parts.settledHere(conn);
    this.count();
    conn.sendFrame({ type: 'welcome', node: this.o.self, epoch: t.epoch, fingerprint: t.fingerprint, standIn: decision.standIn, session: sessionId, user: userId });
    // After the welcome: replay what the client is missing since `last`, then its live messages.
    this.parts.feed()?.attach(conn, params.last);
    this.parts.opened(conn);
    return conn;
  }

  /** A socket closed: forget its session if it is still registered; the user goes with its last session. */
  release(conn: ClientConnection, code: number): void {
    this.parts.socketGone(conn);
    this.parts.feed()?.detach(conn);
    const removed = this.parts.registry.remove(conn);
    if (!removed) return;
    if (removed === 'user-gone') {
      this.parts.settledHere(conn);
      this.parts.fled.forget(conn.userId);
    }
    this.count();
    this.parts.closed(conn, code);
  }

  /** A registered session pushed out by a newer one: unregistered already; its delivery and grace timer stop now. */
  private displace(old: ClientConnection, code: number, reason: string): void {
    this.parts.socketGone(old);
    this.parts.feed()?.detach(old);
    closeWith(old.socket, code, reason, this.o.metrics);
    if (old.socket.readyState !== old.socket.CLOSED) this.parts.unregistered?.(old.socket);
    this.parts.closed(old, code);
  }

  private count(): void {
    this.o.metrics.connections.set(this.parts.registry.size);
    this.o.metrics.users.set(this.parts.registry.users);
  }
}

/** 72 random bits as 12 base64url characters: unique among a user's sessions for all practical purposes. */
function randomSessionId(): string {
  return randomBytes(9).toString('base64url');
}

/** A node's URL as the served ring advertises it. */
function urlIn(t: AgentTopology, nodeId: string): string {
  return t.ring.nodes.find((n) => n.id === nodeId)?.meta?.url ?? t.nodes.find((n) => n.id === nodeId)?.url ?? '';
}
