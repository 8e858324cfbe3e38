// One agent's answer to a preview: which of its connected users the change would move, and to whom. Computed
// with the planner the rebalancer runs (`planMoves` over the key index: O(moved ranges + moved users)), so the
// answer is what this agent would do if the change happened now. Read-only: nothing is queued or sent.
import type { RingOptions } from '@wsring/ring';
import type { ConnectionRegistry } from '../connections.js';
import { planMoves } from '../planner.js';
import type { AgentState, AgentTopology, PacingOptions } from '../types.js';
import { applyChange, parseChange, PreviewError, type ProposedChange } from './change.js';
import { FLEET_DEFAULTS, FLEET_PROTOCOL } from './subjects.js';

/** The request body on `wsring.fleet.<bucket>.preview`. */
export interface PreviewRequest {
  v: number;
  change: ProposedChange;
  /** List the moved user ids too (admins only: the page asks only when told to). Default false: counts only. */
  users?: boolean;
  /** At most this many user ids per answer. Default 10,000. */
  maxUsers?: number;
  /** The asker stops waiting this long after sending: an agent that sees it too late need not answer. */
  deadlineMs?: number;
}

export interface PreviewAnswer {
  v: number;
  node: string;
  state: AgentState;
  /** The placement this agent serves with, which the change was applied to. */
  epoch: number;
  fingerprint: string;
  /** The ring after the change: equal on every agent that serves the same ring. */
  nextFingerprint?: string;
  /** Sessions (sockets) held. */
  connections: number;
  /** Users held (each with one or more sessions); what `moved` counts. Absent from agents older than sessions. */
  heldUsers?: number;
  capacity: number;
  acceptRate: number;
  /** This agent's sender ceiling and jitter (the wave is bounded by them too). */
  ratePerSec: number;
  jitterMs: number;
  /** Local users the change moves, and how many to each node. */
  moved: number;
  to: Record<string, number>;
  /** The moved user ids per target, when asked for (at most `maxUsers` in all; `usersTruncated` then). */
  users?: Record<string, string[]>;
  usersTruncated?: boolean;
  /** Users already queued for a move from an earlier change (the change re-plans them; not in `moved`). */
  queued: number;
  standIns: number;
  /** Time the plan took here, ms. */
  computeMs: number;
  /** Set instead of a plan when the change does not apply to this agent's ring. */
  error?: string;
}

export interface PreviewSource {
  self: string;
  state(): AgentState;
  topology(): AgentTopology;
  registry: ConnectionRegistry;
  prefsDepth: number;
  ringOptions: RingOptions | undefined;
  capacity: number;
  acceptRate: number;
  pacing: Required<PacingOptions>;
  /** Users queued in the pacer. */
  pending(): number;
}

/** A request from untrusted JSON, checked. */
export function parsePreviewRequest(raw: unknown): PreviewRequest {
  if (raw === null || typeof raw !== 'object') throw new PreviewError('INVALID_CHANGE', 'a preview request must be an object');
  const r = raw as Record<string, unknown>;
  if (r.v !== FLEET_PROTOCOL) throw new PreviewError('INVALID_CHANGE', `preview protocol ${JSON.stringify(r.v)} is not ${FLEET_PROTOCOL}`);
  const maxUsers = r.maxUsers;
  if (maxUsers !== undefined && !(Number.isSafeInteger(maxUsers) && (maxUsers as number) >= 0)) throw new PreviewError('INVALID_CHANGE', 'maxUsers must be an integer >= 0');
  return {
    v: FLEET_PROTOCOL,
    change: parseChange(r.change),
    users: r.users === true,
    ...(maxUsers === undefined ? {} : { maxUsers: maxUsers as number }),
    ...(typeof r.deadlineMs === 'number' ? { deadlineMs: r.deadlineMs } : {}),
  };
}

/** This agent's answer. Never throws: a change that does not apply comes back as `error`. */
export async function answerPreview(src: PreviewSource, req: PreviewRequest): Promise<PreviewAnswer> {
  const t = src.topology();
  const base = {
    v: FLEET_PROTOCOL,
    node: src.self,
    state: src.state(),
    epoch: t.epoch,
    fingerprint: t.fingerprint,
    connections: src.registry.size,
    heldUsers: src.registry.users,
    capacity: src.capacity,
    acceptRate: src.acceptRate,
    ratePerSec: src.pacing.ratePerSec,
    jitterMs: src.pacing.jitterMs,
    queued: src.pending(),
    standIns: src.registry.standIns.size,
  };
  let next;
  try {
    next = await applyChange(t.ring, req.change, src.ringOptions);
  } catch (err) {
    return { ...base, moved: 0, to: {}, computeMs: 0, error: err instanceof PreviewError ? err.message : String(err) };
  }
  const started = performance.now();
  // The topology may have changed while the ring was built: plan against the ring it was built from.
  const plan = planMoves({ self: src.self, prev: t.ring, next, index: src.registry.index, standIns: src.registry.standIns }, src.prefsDepth);
  const to: Record<string, number> = {};
  for (const m of plan.moves) to[m.to] = (to[m.to] ?? 0) + 1;
  const answer: PreviewAnswer = { ...base, nextFingerprint: next.fingerprint, moved: plan.moves.length, to, computeMs: 0 };
  if (req.users) {
    const cap = req.maxUsers ?? FLEET_DEFAULTS.maxUsers;
    const users: Record<string, string[]> = {};
    let listed = 0;
    for (const m of plan.moves) {
      if (listed >= cap) {
        answer.usersTruncated = true;
        break;
      }
      (users[m.to] ??= []).push(m.userId);
      listed++;
    }
    answer.users = users;
  }
  answer.computeMs = Math.round((performance.now() - started) * 1000) / 1000;
  return answer;
}
