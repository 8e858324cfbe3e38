// The storm model's inputs: defaults and validation. Names follow the node agent's pacing options and their defaults
// are the agent's own (imported, not copied), as the client's backoff defaults are the client's: the model paces and
// retries as the real agent and client do out of the box.
import { DEFAULT_BACKOFF } from '@wsring/client';
import { DEFAULTS as AGENT } from '@wsring/node-agent';
import { senderBurst } from '@wsring/node-agent/internal';
import { SimError } from './errors.js';
import type { StormParams } from './types.js';

export const DEFAULT_STORM_PARAMS: Readonly<StormParams> = Object.freeze({
  // What the agents do now.
  policy: 'receiver-budget',
  acceptRate: AGENT.acceptRate,
  nodeAcceptRate: Object.freeze({}) as Record<string, number>,
  ratePerSec: AGENT.pacing.ratePerSec,
  burst: AGENT.pacing.burst,
  jitterMs: AGENT.pacing.jitterMs,
  graceMs: AGENT.pacing.graceMs,
  drainDeadlineMs: AGENT.drainDeadlineMs,
  restartBackInMs: AGENT.restartBackInMs,
  // Absent: the new process serves at restartBackInMs, as planned (restartTakesOf). Left out of reports when absent.
  restartTakesMs: undefined,
  warmupMs: AGENT.warmupMs,
  heartbeatMs: AGENT.heartbeatMs,
  admissionWaitMs: AGENT.admissionWaitMs,
  ignorePct: 0,
  backoffBaseMs: DEFAULT_BACKOFF.baseMs,
  backoffCapMs: DEFAULT_BACKOFF.capMs,
  rttMs: 50,
  // A node's accept rate defaults to what an agent declares by default (`acceptRate`).
  acceptPerSec: AGENT.acceptRate,
  acceptBurstMs: 100,
  nodeAcceptPerSec: Object.freeze({}) as Record<string, number>,
  lb: 'least-connections',
  lbDrop: 'all',
  tickMs: 10,
  maxStepMs: 600_000,
  seed: 1,
});

export const STORM_PARAM_NAMES = Object.keys(DEFAULT_STORM_PARAMS) as (keyof StormParams)[];

/** Inclusive ranges; every limit here is the model's, and each has its option. */
const RANGES: Partial<Record<keyof StormParams, [number, number]>> = {
  acceptRate: [0.001, 1e8],
  ratePerSec: [0.001, 1e7],
  burst: [1, 1e7],
  jitterMs: [0, 3_600_000],
  graceMs: [0, 3_600_000],
  drainDeadlineMs: [0, 86_400_000],
  // The agent takes at most half its hold bound (RECORD_LIMITS.maxHoldMs, 600 s).
  restartBackInMs: [0, 300_000],
  // However long a process takes; past the fleet's hold of the node the ring drops it (restart-hold.ts).
  restartTakesMs: [0, 86_400_000],
  warmupMs: [0, 600_000],
  heartbeatMs: [1, 600_000],
  admissionWaitMs: [0, 3_600_000],
  ignorePct: [0, 100],
  backoffBaseMs: [1, 3_600_000],
  backoffCapMs: [1, 3_600_000],
  rttMs: [0, 60_000],
  acceptPerSec: [0.001, 1e8],
  acceptBurstMs: [0, 60_000],
  tickMs: [1, 1000],
  maxStepMs: [1, 86_400_000],
  seed: [0, 0xffffffff],
};

/** Parameters that may be absent (each says what its absence means). */
const OPTIONAL: ReadonlySet<keyof StormParams> = new Set(['restartTakesMs']);

/** When a restarted node's new process serves, ms after the restart: restartTakesMs, or as planned (restartBackInMs). */
export function restartTakesOf(p: StormParams): number {
  return p.restartTakesMs ?? p.restartBackInMs;
}

export function resolveStormParams(...layers: Partial<StormParams>[]): StormParams {
  const p: StormParams = { ...DEFAULT_STORM_PARAMS, nodeAcceptPerSec: {}, nodeAcceptRate: {} };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      // Per-node rates merge across layers (a later one wins per node); the rest replace.
      if ((k === 'nodeAcceptPerSec' || k === 'nodeAcceptRate') && v !== null && typeof v === 'object') p[k] = { ...p[k], ...(v as Record<string, number>) };
      else (p as unknown as Record<string, unknown>)[k] = v;
    }
  }
  // The agents' own default: a sender's bucket holds 250 ms of its ceiling unless a layer says otherwise.
  if (!layers.some((layer) => layer.burst !== undefined)) p.burst = senderBurst(p.ratePerSec);
  for (const [name, [lo, hi]] of Object.entries(RANGES) as [keyof StormParams, [number, number]][]) {
    const v = p[name];
    if (v === undefined && OPTIONAL.has(name)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
      throw new SimError('INVALID_OPTION', `${name} ${String(v)} must be a number in [${lo}, ${hi}]`);
    }
  }
  for (const [name, range] of [['nodeAcceptPerSec', RANGES.acceptPerSec!], ['nodeAcceptRate', RANGES.acceptRate!]] as const) {
    const [lo, hi] = range;
    const rates = p[name];
    if (rates === null || typeof rates !== 'object' || Array.isArray(rates)) throw new SimError('INVALID_OPTION', `${name} must map node ids to accept rates`);
    for (const [id, v] of Object.entries(rates)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new SimError('INVALID_OPTION', `${name}.${id} ${String(v)} must be a number in [${lo}, ${hi}]`);
    }
  }
  if (p.policy !== 'receiver-budget' && p.policy !== 'per-sender') throw new SimError('INVALID_OPTION', `policy ${String(p.policy)} must be receiver-budget or per-sender`);
  if (!Number.isInteger(p.tickMs) || 1000 % p.tickMs !== 0) throw new SimError('INVALID_OPTION', `tickMs ${p.tickMs} must divide 1000 (1, 2, 5, 10, 20, 25, 50, 100, ...)`);
  if (!Number.isInteger(p.seed)) throw new SimError('INVALID_OPTION', `seed ${p.seed} must be an integer`);
  if (p.backoffCapMs < p.backoffBaseMs) throw new SimError('INVALID_OPTION', `backoffCapMs ${p.backoffCapMs} is below backoffBaseMs ${p.backoffBaseMs}`);
  if (p.lb !== 'least-connections' && p.lb !== 'round-robin') throw new SimError('INVALID_OPTION', `lb ${String(p.lb)} must be least-connections or round-robin`);
  if (p.lbDrop !== 'all' && p.lbDrop !== 'affected') throw new SimError('INVALID_OPTION', `lbDrop ${String(p.lbDrop)} must be all or affected`);
  return p;
}
