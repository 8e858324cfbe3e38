// What a script needs to set the model's figures beside a real run: given the fleet's node ids, the very user ids it
// connects and the changes it makes, the targeted storm model (the agents' ring, planner split, pacer and defaults)
// says per step how fast each receiving node gets its users and how long they take to arrive.
import type { Algorithm } from '@wsring/ring';
import { silentProgress } from './progress.js';
import { simulateStorm } from './storm.js';
import { resolveStormParams } from './storm-params.js';
import { planStorm } from './storm-run.js';
import type { DeployOf, ReceiverSummary, SimNode, StepSpec, StormParams } from './types.js';

export interface MovementInput {
  /** The starting fleet: node ids (weight 1), or nodes with weights. */
  nodes: readonly (string | SimNode)[];
  /** The user ids, in any order (the ones the real run connects), or a count of synthetic ids `user-0` ... */
  users: readonly string[] | number;
  /** The changes, in order (StepSpec: `add`, `drain`, `rolling-deploy` with a strategy, ...). */
  steps: StepSpec[];
  /** Placement, as the agents' ring: default `ring`, seed 0 (the agents' defaults). */
  algorithm?: Algorithm;
  ringSeed?: number;
  pointsPerWeight?: number;
  tableSize?: number;
  /**
   * Storm parameters over the defaults (the agents' own: acceptRate and ratePerSec 1,000/s, burst 20, jitterMs 250,
   * restartBackInMs 10,000; acceptPerSec, what a node can take, 1,000/s; rttMs 50; tickMs 10).
   */
  params?: Partial<StormParams>;
}

export interface MovementStep {
  label: string;
  kind: StepSpec['kind'];
  /** A handoff or restart-in-place deploy of one node. */
  deploy?: DeployOf;
  /** Users the ring moves to another node in the step. */
  moved: number;
  /** Users that reconnected in the step (moved ones, and a handoff's or restart's, who come back to the same node). */
  reconnected: number;
  /** Users closed with a restart frame (restart in place), in `reconnected`. */
  restarted: number;
  /** ms from the start of the step to its first reconnect or restart frame; null if it sent none. */
  firstFrameMs: number | null;
  /** ms from the start of the step to its last connection accepted; null if none. */
  lastArrivalMs: number | null;
  /** The time to settle: from the first frame to the last arrival, ms (null if either is missing). */
  settleMs: number | null;
  /** Most connection attempts one node saw in one second of the step. */
  peakArrivalsPerSec: number;
  /** Node-seconds past a node's acceptPerSec, and attempts refused for it (0 when paced within the rates). */
  overloadSeconds: number;
  refused: number;
  /** Every node that took users in the step, in order of its id's first appearance. */
  receivers: ReceiverSummary[];
}

export interface MovementPrediction {
  users: number;
  params: StormParams;
  steps: MovementStep[];
}

/**
 * The targeted storm model on an explicit fleet and user list: one entry per expanded step (a rolling deploy is one
 * step per node: `deploy <id>: handoff`, or a drain and a return).
 */
export async function predictMovement(input: MovementInput): Promise<MovementPrediction> {
  const nodes = input.nodes.map((n) => (typeof n === 'string' ? { id: n, weight: 1 } : { ...n }));
  const users = typeof input.users === 'number' ? { kind: 'synthetic' as const, count: input.users } : { kind: 'ids' as const, ids: input.users };
  const params = resolveStormParams(input.params ?? {});
  const cluster = { nodes, algorithm: input.algorithm ?? 'ring', ringSeed: input.ringSeed ?? 0, pointsPerWeight: input.pointsPerWeight, tableSize: input.tableSize, users };
  const { plan, stormInput, users: count } = await planStorm({ cluster, steps: input.steps }, params, {}, silentProgress);
  const run = simulateStorm(stormInput, params, 'targeted');
  return {
    users: count,
    params,
    steps: run.steps.map((s, i) => ({
      label: s.label,
      kind: plan[i].kind,
      ...(s.deploy ? { deploy: s.deploy } : {}),
      moved: plan[i].moved,
      reconnected: s.receivers.reduce((a, r) => a + r.arrivals, 0),
      restarted: s.restarted,
      firstFrameMs: s.firstFrameMs,
      lastArrivalMs: s.lastArrivalMs,
      settleMs: s.firstFrameMs === null || s.lastArrivalMs === null ? null : s.lastArrivalMs - s.firstFrameMs,
      peakArrivalsPerSec: s.peakNodeArrivalsPerSec,
      overloadSeconds: s.overloadSeconds,
      refused: s.refused,
      receivers: s.receivers,
    })),
  };
}
