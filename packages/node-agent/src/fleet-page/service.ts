// The agent's part in the fleet page and the live preview: it counts its arrivals, keeps its epoch history,
// answers the fleet's status and preview requests over NATS, and (when an admin credential is configured)
// serves the page itself. The agent hands it read-only views of its parts (`FleetSources`).
import type { EventEmitter } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RingOptions } from '@wsring/ring';
import type { Clock } from '../clock.js';
import type { ConnectionRegistry } from '../connections.js';
import type { AgentState, AgentTopology, Logger, MemberRecord, PacingOptions, RebalanceEvent, StoreHealth } from '../types.js';
import type { ProposedChange } from './change.js';
import { answerPreview, type PreviewAnswer, type PreviewRequest } from './preview-answer.js';
import { previewOverNats } from './preview-client.js';
import type { FleetPreview } from './preview-report.js';
import { FleetResponder } from './responder.js';
import type { ArrivalCounter } from '../arrivals.js';
import { EpochHistory, statusOf, type DrainProgress, type Lane, type NodeStatus } from './status.js';
import { FLEET_DEFAULTS, FLEET_PROTOCOL, statusSubject } from './subjects.js';
import { fanOut } from './fan-out.js';
import { ringGeometry, type RingGeometry } from './ring-arcs.js';
import { buildSnapshot, type FleetSnapshot } from './snapshot.js';
import { DEFAULTS } from '../options.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createFleetHandler, type FleetRouteOptions, type Viewer } from './routes.js';

export interface FleetSources {
  self: string;
  clock: Clock;
  logger: Logger;
  /** The membership bucket: the fleet's subjects carry it. */
  bucket: string;
  /** The agent's NATS connection; none with in-memory membership. */
  nc: NatsConnection | undefined;
  registry: ConnectionRegistry;
  /** The agent's count of accepted connections. */
  arrivals: ArrivalCounter;
  prefsDepth: number;
  ringOptions: RingOptions | undefined;
  capacity: number;
  acceptRate: number;
  weight: number;
  pacing: Required<PacingOptions>;
  url(): string;
  state(): AgentState;
  topology(): AgentTopology;
  /** The live member records this agent knows. */
  members(): MemberRecord[];
  lanes(): Lane[];
  /** Time the queued moves need at the receivers' budgets, ms (jitter aside). */
  estimateMs(): number;
  pending(): number;
  store(): StoreHealth;
  /** The agent: its `connection`, `topology` and `rebalance` events. */
  events: EventEmitter;
}

export class FleetService {
  readonly arrivals: ArrivalCounter;
  readonly history = new EpochHistory();
  private responder: FleetResponder | undefined;
  private drain: Omit<DrainProgress, 'remainingMs'> | undefined;
  private readonly listeners: [string, (...args: unknown[]) => void][] = [];
  /** Open feeds of the page: each gets every frame. */
  private readonly viewers = new Set<Viewer>();
  private loop: unknown;
  private collecting: Promise<FleetSnapshot> | undefined;
  private geometryCache: { fingerprint: string; geometry: Promise<RingGeometry> } | undefined;
  private stopped = false;

  constructor(readonly src: FleetSources) {
    this.arrivals = src.arrivals;
    const on = <A extends unknown[]>(event: string, fn: (...args: A) => void) => {
      const listener = fn as unknown as (...args: unknown[]) => void;
      src.events.on(event, listener);
      this.listeners.push([event, listener]);
    };
    on('topology', (t: AgentTopology) => this.history.saw(t.epoch, t.fingerprint, t.ring.nodes.length, src.clock.now()));
    on('rebalance', (e: RebalanceEvent) => this.history.moved(e.epoch, e.fingerprint, e.moved));
  }

  /**
   * The page's HTTP endpoints (GET /fleet, /fleet/events, /fleet/state, POST /fleet/preview); returns false for any
   * other request, and for every request when the page is off (no admin credential).
   */
  handleHttp: (req: IncomingMessage, res: ServerResponse) => boolean = () => false;

  /** Serve the page behind `access`. */
  servePage(o: FleetRouteOptions): void {
    this.handleHttp = createFleetHandler(this, o);
  }

  /** Answer the fleet's requests (with a NATS connection). */
  start(): void {
    if (!this.src.nc || this.responder) return;
    this.responder = new FleetResponder(this.src.nc, this.src.bucket, this.src.self, { status: () => this.status(), preview: (req) => this.answer(req) }, this.src.logger);
  }

  stop(): void {
    this.stopped = true;
    if (this.loop !== undefined) this.src.clock.clearTimeout(this.loop);
    this.loop = undefined;
    for (const v of this.viewers) v.close();
    this.viewers.clear();
    this.responder?.stop();
    this.responder = undefined;
    for (const [event, fn] of this.listeners) this.src.events.off(event, fn);
    this.listeners.length = 0;
  }

  /** The agent began draining. */
  drainStarted(deadlineMs: number): void {
    this.drain ??= { startedAt: this.src.clock.now(), deadlineMs, startConnections: this.src.registry.size };
  }

  status(): NodeStatus {
    const s = this.src;
    const t = s.topology();
    const state = s.state();
    return statusOf({
      node: s.self,
      url: s.url(),
      weight: s.weight,
      state,
      connections: s.registry.size,
      capacity: s.capacity,
      acceptRate: s.acceptRate,
      arrivalsPerSec: this.arrivals.perSec,
      arrivalsPeak: this.arrivals.peak,
      epoch: t.epoch,
      fingerprint: t.fingerprint,
      store: s.store(),
      lanes: s.lanes(),
      ...(this.drain && state === 'draining' ? { drain: { ...this.drain, remainingMs: Math.round(s.estimateMs() + (s.pending() > 0 ? s.pacing.jitterMs : 0)) } } : {}),
      at: s.clock.now(),
    });
  }

  /** This agent's own answer to a preview. */
  answer(req: PreviewRequest): Promise<PreviewAnswer> {
    const s = this.src;
    return answerPreview(
      { self: s.self, state: s.state, topology: s.topology, registry: s.registry, prefsDepth: s.prefsDepth, ringOptions: s.ringOptions, capacity: s.capacity, acceptRate: s.acceptRate, pacing: s.pacing, pending: s.pending },
      req,
    );
  }

  /**
   * One frame of the page: this agent's own status and every other member's, asked over NATS (answers within
   * `statusDeadlineMs`; the rest are named missing). Concurrent callers share one round.
   */
  snapshot(): Promise<FleetSnapshot> {
    this.collecting ??= this.collect().finally(() => (this.collecting = undefined));
    return this.collecting;
  }

  private async collect(): Promise<FleetSnapshot> {
    const s = this.src;
    const members = s.members();
    const started = performance.now();
    const statuses = new Map<string, NodeStatus>();
    const expected = new Set(members.map((m) => m.id));
    expected.delete(s.self);
    if (s.nc && expected.size > 0 && !s.nc.isClosed()) {
      const round = await fanOut<NodeStatus>(s.nc, statusSubject(s.bucket), { v: FLEET_PROTOCOL }, {
        expected,
        deadlineMs: FLEET_DEFAULTS.statusDeadlineMs,
        nodeOf: (a) => (a && a.v === FLEET_PROTOCOL && typeof a.node === 'string' && Array.isArray(a.lanes) && a.node !== s.self ? a.node : undefined),
      });
      for (const [id, st] of round.answers) statuses.set(id, st);
    }
    statuses.set(s.self, this.status());
    const t = s.topology();
    return buildSnapshot({
      servedBy: s.self,
      bus: s.nc ? 'nats' : 'none',
      at: Date.now(),
      members,
      ringIds: new Set(t.ring.nodes.map((n) => n.id)),
      epoch: t.epoch,
      fingerprint: t.fingerprint,
      algorithm: t.ring.algorithm,
      history: this.history.list(),
      statuses,
      defaultAcceptRate: DEFAULTS.acceptRate,
      statusMs: performance.now() - started,
    });
  }

  /** The ring as the page draws it, computed once per placement. */
  geometry(): Promise<RingGeometry> {
    const t = this.src.topology();
    if (this.geometryCache?.fingerprint !== t.fingerprint) this.geometryCache = { fingerprint: t.fingerprint, geometry: ringGeometry(t.ring) };
    return this.geometryCache.geometry;
  }

  /** Open feeds (pages) right now. */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** A page opened its feed: it gets a frame now and every `refreshMs` until it closes. */
  addViewer(v: Viewer): () => void {
    if (this.stopped) {
      v.close();
      return () => {};
    }
    this.viewers.add(v);
    if (this.viewers.size === 1) this.tick();
    else void this.push(v);
    return () => {
      this.viewers.delete(v);
    };
  }

  private tick(): void {
    this.loop = undefined;
    if (this.stopped || this.viewers.size === 0) return;
    const started = this.src.clock.now();
    void Promise.all([...this.viewers].map((v) => this.push(v))).finally(() => {
      if (this.stopped || this.viewers.size === 0 || this.loop !== undefined) return;
      const wait = Math.max(50, FLEET_DEFAULTS.refreshMs - (this.src.clock.now() - started));
      this.loop = this.src.clock.setTimeout(() => this.tick(), wait);
    });
  }

  private async push(v: Viewer): Promise<void> {
    try {
      v.send('fleet', JSON.stringify(await this.snapshot()));
      // The ring's picture costs a diff of the placement (0.3-4 s at 1,000 nodes, idle to busy machine), once per
      // placement: it follows the frame rather than hold it up, after the frame has left (one turn of the loop).
      if (this.geometryCache?.fingerprint !== this.src.topology().fingerprint) await new Promise((resolve) => setImmediate(resolve));
      const g = await this.geometry();
      if (v.ring === g.fingerprint) return;
      v.ring = g.fingerprint;
      v.send('ring', JSON.stringify(g));
    } catch (err) {
      this.src.logger.warn({ err: String(err) }, 'fleet page frame failed');
    }
  }

  /** The fleet-wide preview, asked from this agent: its own answer directly, every other member over NATS. */
  preview(change: ProposedChange, o: { users?: boolean; deadlineMs?: number; maxUsers?: number } = {}): Promise<FleetPreview> {
    const req: PreviewRequest = { v: FLEET_PROTOCOL, change, users: o.users === true, ...(o.maxUsers === undefined ? {} : { maxUsers: o.maxUsers }) };
    return previewOverNats({
      nc: this.src.nc,
      bucket: this.src.bucket,
      members: this.src.members(),
      change,
      users: o.users,
      maxUsers: o.maxUsers,
      deadlineMs: o.deadlineMs,
      local: { node: this.src.self, answer: () => this.answer(req) },
    });
  }
}

