import type { WebSocket } from 'ws';
import { CloseCode, type ConnectParams } from '@wsring/protocol';
import { decideAdmission } from './admission.js';
import type { Clock } from './clock.js';
import { ClientConnection, type ConnectionRegistry } from './connections.js';
import type { LiveFeed } from './delivery/feed.js';
import type { FledNodes } from './liveness.js';
import type { AgentMetrics } from './metrics.js';
import { moveFrameText } from './topology-json.js';
import { closeWith } from './transport.js';
import type { AgentTopology } from './types.js';

export interface AdmitterOptions {
  self: string;
  capacity: number;
  prefsDepth: number;
  clock: Clock;
  metrics: AgentMetrics;
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
  /** The user is here anew, or has gone: nothing queued for it may be sent, no grace close may follow. */
  settledHere(conn: ClientConnection): void;
  /** A socket that is no longer the user's current one closed: only its own grace timer goes. */
  socketGone(conn: ClientConnection): void;
  opened(conn: ClientConnection): void;
  closed(conn: ClientConnection, code: number): void;
}

/**
 * The glue between a connecting socket and the node's state: asks `decideAdmission` (pure) where the user
 * goes, then redirects or refuses with the documented frame and code, or registers the connection, closes the
 * one it replaces, welcomes it and attaches its delivery.
 */
export class Admitter {
  constructor(private readonly o: AdmitterOptions, private readonly parts: AdmitterParts) {}

  admit(socket: WebSocket, userId: string, params: ConnectParams): ClientConnection | undefined {
    const { metrics } = this.o;
    const { registry } = this.parts;
    const serving = this.parts.serving();
    if (serving === 'not-serving') {
      closeWith(socket, CloseCode.GOING_AWAY, 'not serving', metrics);
      return undefined;
    }
    const t = this.parts.topology();
    const successorUrl = this.parts.handoffUrl?.();
    if (successorUrl !== undefined && t.ring.nodes.length > 0 && t.ring.owner(userId) === this.o.self) {
      // Handing off: this node's users go to the same node at its successor's URL, the topology along.
      metrics.redirects.inc({ reason: 'draining' });
      if (socket.readyState === socket.OPEN) socket.send(moveFrameText({ type: 'redirect', node: this.o.self, url: successorUrl, epoch: t.epoch, fingerprint: t.fingerprint, reason: 'draining' }, t, undefined));
      closeWith(socket, CloseCode.DRAINING, 'handing off to the successor');
      return undefined;
    }
    const decision = decideAdmission({
      self: this.o.self,
      draining: serving === 'draining',
      ring: t.ring,
      epoch: t.epoch,
      knownEpoch: this.parts.knownEpoch(),
      userId,
      clientEpoch: params.epoch,
      unreachable: params.unreachable ?? [],
      alreadyHere: registry.get(userId) !== undefined,
      full: registry.size >= this.o.capacity,
      maxPrefs: this.o.prefsDepth,
    });
    if (decision.kind === 'refuse') {
      closeWith(socket, decision.code, decision.reason, metrics);
      return undefined;
    }
    if (decision.kind === 'redirect') {
      metrics.redirects.inc({ reason: decision.reason });
      if (socket.readyState === socket.OPEN) {
        const url = urlIn(t, decision.to);
        socket.send(moveFrameText({ type: 'redirect', node: decision.to, url, epoch: t.epoch, fingerprint: t.fingerprint, reason: decision.reason }, t, params.epoch));
      }
      closeWith(socket, decision.code, decision.reason);
      return undefined;
    }
    const conn = new ClientConnection(userId, socket, decision.standIn, this.o.clock.now());
    // The welcome names t.epoch, and a client behind it refreshes its topology.
    conn.knownEpoch = Math.max(params.epoch ?? 0, t.epoch);
    const replaced = registry.add(conn, decision.avoid);
    if (decision.standIn) this.parts.fled.hold(userId, decision.avoid);
    else this.parts.fled.forget(userId);
    if (replaced) {
      this.parts.settledHere(replaced);
      closeWith(replaced.socket, CloseCode.REPLACED, 'replaced by a newer connection', metrics);
    }
    this.parts.settledHere(conn);
    metrics.connections.set(registry.size);
    conn.sendFrame({ type: 'welcome', node: this.o.self, epoch: t.epoch, fingerprint: t.fingerprint, standIn: decision.standIn });
    // After the welcome: replay what the client is missing since `last`, then its live messages.
    this.parts.feed()?.attach(conn, params.last);
    this.parts.opened(conn);
    return conn;
  }

  /** A socket closed: forget its connection if it was the user's current one. */
  release(conn: ClientConnection, code: number): void {
    this.parts.socketGone(conn);
    this.parts.feed()?.detach(conn);
    if (!this.parts.registry.remove(conn)) return;
    this.parts.settledHere(conn);
    this.parts.fled.forget(conn.userId);
    this.o.metrics.connections.set(this.parts.registry.size);
    this.parts.closed(conn, code);
  }
}

/** A node's URL as the served ring advertises it. */
function urlIn(t: AgentTopology, nodeId: string): string {
  return t.ring.nodes.find((n) => n.id === nodeId)?.meta?.url ?? t.nodes.find((n) => n.id === nodeId)?.url ?? '';
}
