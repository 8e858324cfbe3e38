// What one agent reports of itself to the fleet page: its state, load, arrivals, moves in flight, store health
// and drain. Small (a few hundred bytes; lanes capped), answered on request, never pushed.
import type { AgentState, StoreHealth } from '../types.js';
import { FLEET_PROTOCOL } from './subjects.js';

/** Moves queued at one sender for one receiver, and the sender's rate to it. */
export interface Lane {
  to: string;
  queued: number;
  ratePerSec: number;
}

export interface DrainProgress {
  /** When the drain started (ms since the Unix epoch, the agent's clock). */
  startedAt: number;
  deadlineMs: number;
  /** Connections when it started, and now. */
  startConnections: number;
  /** Time the moves still queued need at the receivers' budgets, ms (jitter included). */
  remainingMs: number;
}

export interface NodeStatus {
  v: number;
  node: string;
  url: string;
  weight: number;
  state: AgentState;
  connections: number;
  capacity: number;
  acceptRate: number;
  /** Connections accepted in the last whole second, and the most in one second over the last 10. */
  arrivalsPerSec: number;
  arrivalsPeak: number;
  epoch: number;
  fingerprint: string;
  store: StoreHealth;
  /** Moves queued here, per receiver (the busiest 50; `lanesMore` counts the rest). */
  lanes: Lane[];
  lanesMore: number;
  queued: number;
  drain?: DrainProgress;
  /** The agent's clock when it answered. */
  at: number;
}

const MAX_LANES = 50;

export interface EpochEntry {
  epoch: number;
  fingerprint: string;
  /** Ring nodes under it. */
  nodes: number;
  /** When this agent started serving it (ms since the Unix epoch, the agent's clock). */
  at: number;
  /** Users this agent planned to move for it. */
  movedHere?: number;
}

/** The last epochs this agent served, newest last. */
export class EpochHistory {
  private readonly entries: EpochEntry[] = [];

  constructor(private readonly size = 32) {}

  /** A topology was served; a new epoch (or a new ring under a label) adds an entry. */
  saw(epoch: number, fingerprint: string, nodes: number, at: number): void {
    const last = this.entries.at(-1);
    if (last && last.epoch === epoch && last.fingerprint === fingerprint) return;
    if (epoch === 0) return;
    this.entries.push({ epoch, fingerprint, nodes, at });
    if (this.entries.length > this.size) this.entries.shift();
  }

  moved(epoch: number, fingerprint: string, moved: number): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.epoch !== epoch || e.fingerprint !== fingerprint) continue;
      e.movedHere = (e.movedHere ?? 0) + moved;
      return;
    }
  }

  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }
}

export function statusOf(input: Omit<NodeStatus, 'v' | 'lanes' | 'lanesMore' | 'queued'> & { lanes: Lane[] }): NodeStatus {
  const lanes = [...input.lanes].sort((a, b) => b.queued - a.queued || (a.to < b.to ? -1 : 1));
  return {
    v: FLEET_PROTOCOL,
    ...input,
    lanes: lanes.slice(0, MAX_LANES).map((l) => ({ to: l.to, queued: l.queued, ratePerSec: Math.round(l.ratePerSec * 100) / 100 })),
    lanesMore: Math.max(0, lanes.length - MAX_LANES),
    queued: lanes.reduce((n, l) => n + l.queued, 0),
  };
}
