// One frame of the fleet page: every member as membership describes it, completed by the status each agent
// reported of itself (connections, arrivals, moves queued, store health, drain), the moves in flight per
// (from, to), and this agent's epoch history. Pure.
import type { AgentState, MemberRecord, MemberState, StoreHealth } from '../types.js';
import type { DrainProgress, EpochEntry, NodeStatus } from './status.js';

export interface NodeView {
  id: string;
  url: string;
  weight: number;
  state: MemberState;
  inRing: boolean;
  acceptRate: number;
  /** Whether the node answered this round; the fields below come from its answer. */
  seen: boolean;
  agent?: AgentState;
  conns?: number;
  cap?: number;
  /** Connections accepted in the last second, and the peak over the last ten. */
  arr?: number;
  arrPeak?: number;
  epoch?: number;
  fp?: string;
  store?: StoreHealth;
  /** Moves queued at this node (as sender) and toward it (as receiver, from every sender that answered). */
  queued?: number;
  inbound: number;
  drain?: DrainProgress & { progress: number };
}

export interface FlowView {
  from: string;
  to: string;
  queued: number;
  ratePerSec: number;
}

export interface FleetSnapshot {
  v: 1;
  /** Wall-clock time of the frame, ms since the Unix epoch. */
  at: number;
  servedBy: string;
  /** How the page's agent reaches the others: NATS, or none (in-memory membership: only itself reports). */
  bus: 'nats' | 'none';
  epoch: number;
  fingerprint: string;
  algorithm: string;
  ringNodes: number;
  history: EpochEntry[];
  nodes: NodeView[];
  /** The largest flows (MAX_FLOWS); `flowsMore` counts the rest, `queued` sums all. */
  flows: FlowView[];
  flowsMore: number;
  totals: {
    members: number;
    answered: number;
    connections: number;
    capacity: number;
    queued: number;
    arrivals: number;
    draining: number;
    storeUnhealthy: number;
  };
  /** Members that did not answer this round (their rows show membership's view only). */
  missing: string[];
  /** How long the round of status answers took, ms. */
  statusMs: number;
}

const MAX_FLOWS = 200;

const healthy = (s: StoreHealth) => s.connected && !s.heartbeatFailing && s.placementFrozen === null;

export function buildSnapshot(input: {
  servedBy: string;
  bus: FleetSnapshot['bus'];
  at: number;
  members: readonly MemberRecord[];
  ringIds: ReadonlySet<string>;
  epoch: number;
  fingerprint: string;
  algorithm: string;
  history: EpochEntry[];
  statuses: ReadonlyMap<string, NodeStatus>;
  defaultAcceptRate: number;
  statusMs: number;
}): FleetSnapshot {
  const flows: FlowView[] = [];
  const inbound = new Map<string, number>();
  for (const s of input.statuses.values()) {
    for (const l of s.lanes) {
      flows.push({ from: s.node, to: l.to, queued: l.queued, ratePerSec: l.ratePerSec });
      inbound.set(l.to, (inbound.get(l.to) ?? 0) + l.queued);
    }
  }
  flows.sort((a, b) => b.queued - a.queued || (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : 1));
  const byId = new Map(input.members.map((m) => [m.id, m] as const));
  // A node that answered but whose record this agent does not hold (it just joined) still shows.
  for (const s of input.statuses.values()) {
    if (!byId.has(s.node)) byId.set(s.node, { id: s.node, url: s.url, weight: s.weight, state: s.state === 'draining' ? 'draining' : 'joining', startedAt: 0, seq: 0, acceptRate: s.acceptRate });
  }
  const nodes: NodeView[] = [...byId.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((m) => {
      const s = input.statuses.get(m.id);
      const view: NodeView = { id: m.id, url: m.url, weight: m.weight, state: m.state, inRing: input.ringIds.has(m.id), acceptRate: m.acceptRate ?? input.defaultAcceptRate, seen: s !== undefined, inbound: inbound.get(m.id) ?? 0 };
      if (s) {
        Object.assign(view, { agent: s.state, conns: s.connections, cap: s.capacity, arr: s.arrivalsPerSec, arrPeak: s.arrivalsPeak, epoch: s.epoch, fp: s.fingerprint, store: s.store, queued: s.queued });
        if (s.drain) view.drain = { ...s.drain, progress: s.drain.startConnections > 0 ? Math.min(1, Math.max(0, 1 - s.connections / s.drain.startConnections)) : 1 };
      }
      return view;
    });
  const answered = [...input.statuses.values()];
  return {
    v: 1,
    at: input.at,
    servedBy: input.servedBy,
    bus: input.bus,
    epoch: input.epoch,
    fingerprint: input.fingerprint,
    algorithm: input.algorithm,
    ringNodes: input.ringIds.size,
    history: input.history,
    nodes,
    flows: flows.slice(0, MAX_FLOWS),
    flowsMore: Math.max(0, flows.length - MAX_FLOWS),
    totals: {
      members: nodes.length,
      answered: answered.length,
      connections: answered.reduce((n, s) => n + s.connections, 0),
      capacity: answered.reduce((n, s) => n + s.capacity, 0),
      queued: answered.reduce((n, s) => n + s.queued, 0),
      arrivals: answered.reduce((n, s) => n + s.arrivalsPerSec, 0),
      draining: nodes.filter((n) => n.state === 'draining').length,
      storeUnhealthy: answered.filter((s) => !healthy(s.store)).length,
    },
    missing: nodes.filter((n) => !n.seen).map((n) => n.id),
    statusMs: Math.round(input.statusMs),
  };
}
