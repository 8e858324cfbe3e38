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
import { ArrivalCounter, EpochHistory, statusOf, type DrainProgress, type Lane, type NodeStatus } from './status.js';
import { FLEET_PROTOCOL } from './subjects.js';

export interface FleetSources {
  self: string;
  clock: Clock;
  logger: Logger;
  /** The membership bucket: the fleet's subjects carry it. */
  bucket: string;
  /** The agent's NATS connection; none with in-memory membership. */
  nc: NatsConnection | undefined;
  registry: ConnectionRegistry;
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

  constructor(readonly src: FleetSources) {
    this.arrivals = new ArrivalCounter(src.clock);
    const on = <A extends unknown[]>(event: string, fn: (...args: A) => void) => {
      const listener = fn as unknown as (...args: unknown[]) => void;
      src.events.on(event, listener);
      this.listeners.push([event, listener]);
    };
    on('connection', () => this.arrivals.add());
    on('topology', (t: AgentTopology) => this.history.saw(t.epoch, t.fingerprint, t.ring.nodes.length, src.clock.now()));
    on('rebalance', (e: RebalanceEvent) => this.history.moved(e.epoch, e.fingerprint, e.moved));
  }

  /** Answer the fleet's requests (with a NATS connection). */
  start(): void {
    if (!this.src.nc || this.responder) return;
    this.responder = new FleetResponder(this.src.nc, this.src.bucket, this.src.self, { status: () => this.status(), preview: (req) => this.answer(req) }, this.src.logger);
  }

  stop(): void {
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
