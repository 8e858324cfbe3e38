import type { GateFigures } from './receiver-gate.js';
import type { Algorithm } from '@wsring/ring';

/** A node of the simulated fleet. */
export interface SimNode {
  id: string;
  /** Relative capacity, > 0. Default 1. */
  weight: number;
  /** Optional zone name; zones can be re-weighted as a whole. */
  zone?: string;
}

/**
 * Where the users come from: `count` synthetic ids `user-0` .. `user-<count-1>`, one id per line of a file, or the
 * ids themselves (scripts: the same users a benchmark connects).
 */
export type UserSource = { kind: 'synthetic'; count: number } | { kind: 'file'; path: string } | { kind: 'ids'; ids: readonly string[] };

export interface ClusterSpec {
  nodes: SimNode[];
  algorithm: Algorithm;
  /** Seed of the ring's hashes (the production default is 0). */
  ringSeed: number;
  /** `ring` only. */
  pointsPerWeight?: number;
  /** `maglev` only. */
  tableSize?: number;
  users: UserSource;
  /** Sessions (sockets) per user, for socket counts beside user counts (see sessions.ts). */
  sessionsPerUser?: import('./sessions.js').SessionsPerUser;
}

/** One change to the fleet, as written in a scenario or on the command line. */
export type StepSpec =
  | { kind: 'scale-out'; count: number; weight?: number; zone?: string; label?: string }
  | { kind: 'scale-in'; count: number; label?: string }
  | { kind: 'add'; nodes: SimNode[]; label?: string }
  | { kind: 'remove'; ids: string[]; label?: string }
  | { kind: 'drain'; ids: string[]; label?: string }
  | { kind: 'crash'; ids: string[]; label?: string }
  | { kind: 'reweight'; weights: Record<string, number>; label?: string }
  | { kind: 'reweight-zone'; zone: string; weight: number; label?: string }
  | { kind: 'rolling-deploy'; ids?: string[]; strategy?: DeployStrategy; label?: string };

/**
 * How a rolling deploy replaces a node's process (the agent's SIGTERM, docs/operations.md):
 * - `drain`: the node leaves the ring, its users move to their new owners at the receivers' accept rates, then it
 *   comes back and takes its share again (two steps; users move twice). What `--sigterm drain` does with no
 *   successor waiting, and the only way when two processes cannot run under one id at once.
 * - `handoff`: a successor process under the same id starts beside the old one; each user moves once, straight to
 *   it (same node, new URL), paced by one lane at the successor's acceptRate under the sender ceiling. Ring
 *   unchanged, nobody else moves.
 * - `restart`: restart in place; each user gets a `restart` frame with its own slot (restartBackInMs + i /
 *   acceptRate) and comes back to the same node then; the ring holds the node meanwhile. Nobody else moves.
 */
export type DeployStrategy = 'drain' | 'handoff' | 'restart';

/** A step that replaces one node's process without changing the ring (handoff, restart in place). */
export interface DeployOf {
  strategy: 'handoff' | 'restart';
  node: string;
}

/**
 * How users leave a node in a step, which decides the shape of the reconnect wave:
 * `paced` (the agent sends targeted reconnect frames at its pace), `crash` (everyone on the node drops at once) or
 * `restart` (a restart in place: every user of the node is told when to come back to it, each at its own slot).
 */
export type Departure = 'paced' | 'crash' | 'restart';

/** A step after expansion (a rolling deploy becomes two steps per node): the fleet before and after. */
export interface ExpandedStep {
  /** Index of the scenario step it came from. */
  group: number;
  label: string;
  kind: StepSpec['kind'];
  departure: Departure;
  before: SimNode[];
  after: SimNode[];
  /** A handoff or restart-in-place deploy of one node (the fleet is the same before and after). */
  deploy?: DeployOf;
}

export interface Scenario {
  name?: string;
  cluster: ClusterSpec;
  steps: StepSpec[];
  storm?: Partial<StormParams>;
}

/** Balance of a load vector against the weights: each ratio is load / (users * weight share). */
export interface Balance {
  /** Highest load relative to its fair share (1 is perfect). */
  maxOverMean: number;
  /** Lowest load relative to its fair share. */
  minOverMean: number;
  /** Standard deviation of the ratios, in percent. */
  stddevPct: number;
}

export interface NodeLoad {
  id: string;
  weight: number;
  zone?: string;
  /** Users on the node before the step (0 if the node is new). */
  before: number;
  /** Users on the node after the step (0 if the node left). */
  after: number;
  /** Set when the node is not in the fleet before (`joined`) or after (`left`) the step. */
  change?: 'joined' | 'left';
}

/** Users moving from one node to another in a step. */
export interface Flow {
  from: string;
  to: string;
  users: number;
}

export interface StepResult {
  group: number;
  label: string;
  kind: StepSpec['kind'];
  departure: Departure;
  users: number;
  moved: number;
  movedPct: number;
  /** Fewest users any placement must move for this change of weights: users * sum(max(0, share_before - share_after)). */
  minimum: number;
  minimumPct: number;
  loads: NodeLoad[];
  balanceBefore: Balance;
  balanceAfter: Balance;
  flows: Flow[];
  /**
   * A handoff or restart-in-place deploy: its node and the users it holds, who reconnect once, to the same node
   * (not in `moved`, which counts users whose node changes, nor in `flows`).
   */
  deploy?: DeployOf & { users: number };
}

export interface PlanReport {
  command: 'plan';
  scenario?: string;
  algorithm: Algorithm;
  ringSeed: number;
  users: number;
  nodes: number;
  steps: StepResult[];
  totals: { moved: number; minimum: number };
  /**
   * With a sessions-per-user distribution: sockets held and moved. Users' session counts are independent of their
   * placement, so the moved sockets of a step are its moved users times the mean (with the 99% range of the draw).
   */
  sessions?: {
    perUser: { spec: string; mean: number };
    sockets: number;
    steps: { label: string; movedUsers: number; movedSockets: number; low: number; high: number }[];
  };
  /** Wall-clock figures; left out of golden comparisons. */
  timing: { usersMs: number; planMs: number; totalMs: number; peakRssMb: number; workers: number };
}

export type StrategyName =
  | 'ring'
  | 'maglev'
  | 'rendezvous'
  | 'hash-mod-n'
  | 'jump'
  | 'round-robin'
  | 'least-connections';

export interface StrategyResult {
  strategy: StrategyName;
  /** Whether a user lands on the same node every time it connects (placement is a function of the user). */
  affinity: boolean;
  /** Whether the strategy honours node weights. */
  weighted: boolean;
  moved: number;
  movedPct: number;
  minimum: number;
  /** Balance after the whole change. */
  balanceAfter: Balance;
  /** Per step: moved users. */
  movedPerStep: number[];
  loadsAfter: { id: string; users: number }[];
  /** The change as it happens (storm model, over the common horizon of every strategy's run); absent with --no-during. */
  during?: DuringStep;
  timeMs: number;
}

export interface CompareReport {
  command: 'compare';
  scenario?: string;
  users: number;
  steps: { label: string; minimum: number }[];
  /** Seconds over which the `during` figures of every strategy are taken: the longest run of them (0 with --no-during). */
  horizonSeconds: number;
  /** The storm settings the `during` figures were taken with; absent with --no-during. */
  params?: StormParams;
  strategies: StrategyResult[];
}

export interface StormParams {
  /**
   * How the agents pace targeted moves: `receiver-budget` (today's agents: each sender paces its moves to a receiver
   * at its share of the receiver's declared acceptRate, under its own ratePerSec) or `per-sender` (the agents before
   * receiver budgets: ratePerSec per sender, whatever the receivers).
   */
  policy: PacingPolicyName;
  /**
   * The acceptRate a node's agent declares in its membership record (receiver-budget): moved users a second it takes
   * from all senders together, which they split among themselves. What it declares, not what it can take (acceptPerSec).
   */
  acceptRate: number;
  /** Declared accept rates of particular nodes, by id, overriding acceptRate for them. */
  nodeAcceptRate: Record<string, number>;
  /** Reconnect frames each agent sends per second (its token bucket's refill rate); under receiver budgets the sender's ceiling. */
  ratePerSec: number;
  /** Token bucket capacity: frames an agent may send at once after being idle. */
  burst: number;
  /** The agent holds each moved user for a uniform random delay in [0, jitterMs] before its frame may go. */
  jitterMs: number;
  /** A client that ignores its reconnect frame is closed this long after it was sent. */
  graceMs: number;
  /** The agents' drain deadline: users a draining node still holds then are closed (not modelled; advise and storm warn). */
  drainDeadlineMs: number;
  /**
   * Restart-in-place deploys: when the next process serves (the agent's restartBackInMs); the i-th user's `restart`
   * frame says come back after restartBackInMs + i / acceptRate (cut at the protocol's MAX_RESTART_DELAY_MS).
   */
  restartBackInMs: number;
  /**
   * Restart-in-place deploys: when the new process really serves, ms after the restart; absent: at restartBackInMs, as
   * planned. Later, the users whose slot comes first find the node down, fail over to stand-ins and are sent back,
   * paced, once it serves (they move twice); past the fleet's hold of the node (see restart-hold.ts) the ring drops it.
   */
  restartTakesMs?: number;
  /**
   * A new process's warm-up (the agent's warmupMs): it declares a fifth of its acceptRate when it begins serving,
   * rising linearly to the whole over this long, written with each heartbeat; senders re-rate their lanes to it.
   * Applies to joining nodes and handoff successors, which begin serving the agents' settleMs before the step.
   */
  warmupMs: number;
  /** How often a warming node's record says its new rate (the agent's heartbeatMs). */
  heartbeatMs: number;
  /**
   * Targeted runs: the receivers' admission gate (the agent's admissionWaitMs). A connection attempt a node's accept
   * capacity takes waits at its gate, first in first out, for a turn at the rate the node declares now (within a
   * one-second window of rate + rate/20 and a bucket 250 ms deep); past this long it is let through anyway (an
   * overflow), as is one arriving while more wait than the gate admits within it. 0: no gate (the model before it).
   */
  admissionWaitMs: number;
  /**
   * Percent of clients that ignore the reconnect frame (and are closed after graceMs), and the restart frame (closed
   * 4005 with no slot, they come back at once with backoff: an SDK older than restart in place).
   */
  ignorePct: number;
  /**
   * Client backoff ("full jitter"): attempt n (0 = the first after a drop, n after n refused attempts) comes
   * rtt + U(0, min(backoffCapMs, backoffBaseMs * 2^n)) after the drop or the refusal.
   */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Round-trip time between clients and nodes. */
  rttMs: number;
  /** Connection attempts a node can accept per second; attempts beyond are refused and retried with backoff. */
  acceptPerSec: number;
  /** How much accept capacity a node can bank (its listen backlog), in ms of acceptPerSec. */
  acceptBurstMs: number;
  /** Accept rates of particular nodes, by id, overriding acceptPerSec for them. */
  nodeAcceptPerSec: Record<string, number>;
  /** How the load balancer of the baseline picks a node. */
  lb: 'least-connections' | 'round-robin';
  /**
   * Whom the baseline drops when nodes only join or change weight: everyone (`all`, the only way to use the new
   * capacity without affinity) or nobody (`affected`). Nodes that leave always drop their own users.
   */
  lbDrop: 'all' | 'affected';
  /** Simulation time step. */
  tickMs: number;
  /** A step that has not settled after this long is reported as unsettled. */
  maxStepMs: number;
  /** Seed of the model's random draws. */
  seed: number;
}

export type StormMode = 'targeted' | 'lb';

export interface StormStepSummary {
  label: string;
  /** Set for a handoff or restart-in-place deploy of one node. */
  deploy?: DeployOf;
  /** Users that went through a disconnect in this step (restarted users included). */
  disconnected: number;
  /**
   * Restart in place: users closed with a `restart` frame, disconnected with a known return (their slot): counted in
   * `disconnected`, never in `reconnecting` (they are not dropped, they wait for their slot).
   */
  restarted: number;
  /** Most users waiting for their restart slot at once. */
  peakRestarting: number;
  /** Sum over users of the time they waited for their restart slot, in seconds (also in userSecondsDisconnected). */
  userSecondsRestarting: number;
  /** Restart in place, targeted: the users that reached the node while it was down and how they came back. */
  failover?: RestartFailover;
  /**
   * The nodes that took users in this step: connections accepted, the peak attempts in a second against the node's
   * accept rate, and the time from the first reconnect (or restart) frame of the step to the last arrival.
   */
  receivers: ReceiverSummary[];
  /** From the start of the step to its first reconnect or restart frame (ms); null if the step sent none. */
  firstFrameMs: number | null;
  /** From the start of the step to the last connection accepted (ms); null if none was. */
  lastArrivalMs: number | null;
  /** Highest connection attempts per second at one node. */
  peakNodeArrivalsPerSec: number;
  peakNode: string;
  /** Highest connection attempts per second over the whole fleet. */
  peakFleetArrivalsPerSec: number;
  /** Attempts refused because a node was at its accept rate. */
  refused: number;
  /** Node-seconds in which a node saw more connection attempts than its accept rate. */
  overloadSeconds: number;
  peakReconnecting: number;
  /** Sum over users of the time they spent disconnected, in seconds. */
  userSecondsDisconnected: number;
  /** From the start of the step until every user is connected and no frame is pending; null if it did not settle. */
  settleMs: number | null;
  /**
   * Steps in which nodes drain (leave at the agents' pace): from the start of the step until they hold no user, to set
   * against the agents' drainDeadlineMs (a handoff: until its last user reached the successor, against the same
   * deadline); null for other steps, or when they were not emptied.
   */
  drainMs: number | null;
  /** Balance of the step's target fleet against all users (users not on it count as missing). */
  balanceAfter: Balance;
  /** Users not on a node of the target fleet when the step ended: 0 once settled. */
  notOnFleet: number;
}

/**
 * A restart in place that did not go as planned: the new process served after some users' slots (restartTakesMs),
 * or clients ignored the restart frame. Times are ms from the start of the step.
 */
export interface RestartFailover {
  /** When the new process served; null if not within the step. */
  servedMs: number | null;
  /** When the ring dropped the node (its hold ran out before the process served); null if it held the node. */
  droppedMs: number | null;
  /** Users that ignored their restart frame (ignorePct): closed 4005 with no slot (not in `restarted`). */
  ignored: number;
  /** Users of the node a stand-in took: they reached it while it was down or out of the ring (in `receivers` there). */
  failedOver: number;
  /** Of those, users back on the node: they moved twice, out to a stand-in and back (the second move is in `disconnected`). */
  movedTwice: number;
  /** Most of the node's users on stand-ins at once. */
  peakOnStandIns: number;
}

/** One receiving node of a step. Times are ms from the start of the step. */
export interface ReceiverSummary {
  node: string;
  /** Connections it accepted in the step. */
  arrivals: number;
  /** Most connection attempts in one second of the step (refused ones included). */
  peakArrivalsPerSec: number;
  /** The accept rate the model gives it (acceptPerSec), and the acceptRate its agent declares. */
  acceptPerSec: number;
  acceptRate: number;
  /** The first frame of the step that sent a user to it (a reconnect frame, or a restart frame). */
  firstFrameMs: number | null;
  lastArrivalMs: number;
  /** lastArrivalMs - firstFrameMs: the time its users took to arrive from the first frame. */
  settleMs: number | null;
  /** Targeted runs with an admission gate (admissionWaitMs > 0): what its gate did in the step. */
  gate?: GateFigures;
}

export interface StormSeries {
  /** Per node: connection attempts in each second of the run. */
  arrivalsPerSec: Record<string, number[]>;
  /** Per node: connections at the end of each second. */
  connections: Record<string, number[]>;
  /** Users reconnecting at the end of each second (dropped or moving; not those waiting for a restart slot). */
  reconnecting: number[];
  /** Users waiting for their restart slot at the end of each second (restart-in-place deploys). */
  restarting: number[];
  /** Targeted runs with a restart in place: users held by stand-ins for a restarted node at the end of each second (in `connections`). */
  standIns?: number[];
  /** Second at which each step starts. */
  stepStarts: number[];
}

export interface StormModeResult {
  mode: StormMode;
  steps: StormStepSummary[];
  series: StormSeries;
  /** Connections per node at the end of the run: the final fleet, and any other node still holding users. */
  finalConnections: Record<string, number>;
  /** Users still reconnecting at the end of the run (0 once settled); with finalConnections they add up to all users. */
  finalReconnecting: number;
  /** Users still waiting for a restart slot at the end of the run (0 once settled). */
  finalRestarting: number;
  /** Targeted runs with admission gates: users still waiting at one at the end of the run (0 once settled). */
  finalAdmitting?: number;
  /** Every node pushed past its accept rate (or that refused attempts), most seconds over first. */
  overloads: Overload[];
  /**
   * settleMs is the sum of the steps' times to settle (not wall time); runSeconds is the model time from the first
   * step's start to the last step's end (steps start on whole seconds).
   */
  totals: { disconnected: number; restarted: number; peakNodeArrivalsPerSec: number; peakFleetArrivalsPerSec: number; settleMs: number | null; refused: number; runSeconds: number; overloadSeconds: number };
}

/** A node that saw more connection attempts in some seconds than it accepts per second. */
export interface Overload {
  node: string;
  acceptPerSec: number;
  /** Seconds of the run (from 0) in which attempts exceeded acceptPerSec. */
  seconds: number[];
  /** Most attempts in one second. */
  peakPerSec: number;
  /** Attempts refused at this node over the run. */
  refused: number;
}

export interface StormReport {
  command: 'storm';
  scenario?: string;
  users: number;
  params: StormParams;
  nodes: string[];
  /** Accept rate of every node of the run. */
  acceptPerSec: Record<string, number>;
  /** The acceptRate every node's agent declares (what its senders pace to under the receiver-budget policy). */
  acceptRate: Record<string, number>;
  /** Nodes that join the fleet, or come back to it, in some step: the receivers that matter most. */
  joining: string[];
  targeted: StormModeResult;
  lb: StormModeResult;
}

export type Report = PlanReport | CompareReport | StormReport | AdviseReport;

/** Pacing policies the model knows: today's agents share each receiver's budget; before that they paced per sender. */
export type PacingPolicyName = 'receiver-budget' | 'per-sender';

/** A storm run (targeted) checked against the accept rates. */
export interface PacingCheck {
  ratePerSec: number;
  burst: number;
  backoffBaseMs: number;
  acceptBurstMs: number;
  /** Sum of the steps' times to settle; null if some step did not settle. */
  settleMs: number | null;
  runSeconds: number;
  peakNodeArrivalsPerSec: number;
  peakNode: string;
  /** Accept rate of the node with the peak. */
  peakNodeAcceptPerSec: number;
  overloadSeconds: number;
  refused: number;
}

export interface StepAdvice {
  label: string;
  departure: Departure;
  /** Users that reconnect in the step: those whose node changes, and a handoff's or restart's users (to the same node). */
  moved: number;
  /**
   * The receiver that limits the step, with its senders and accept rate: per-sender, the one with the fewest accepts
   * per sender (it sets the rate); receiver-budget, the slowest (it sets the time).
   */
  limitingReceiver: string | null;
  senders: number;
  receiverAcceptPerSec: number;
  /** Users the limiting receiver takes in the step. */
  receiverUsers: number;
  /** receiver-budget: the acceptRate the limiting receiver should declare (its accept rate less the headroom, less one per sender). */
  acceptRate: number | null;
  /** Most senders any receiver of the step has. */
  maxSenders: number;
  /**
   * Advised agent pacing for this step; null when the step has no paced moves. per-sender: the rate every agent may
   * send at; receiver-budget: the sender ceiling that holds no lane back (higher loads no receiver more).
   */
  ratePerSec: number | null;
  burst: number | null;
  /** Crash steps: the smallest client backoff base that spreads the dropped users within the accept rates. */
  backoffBaseMs: number | null;
  /**
   * Set when a receiver has more senders than its bank holds connections: the accept bank (acceptBurstMs) every
   * receiver needs, since each sender's first frame (burst >= 1) can arrive at once.
   */
  acceptBurstMs: number | null;
  /** Time the step takes at its advised settings, by the model's arithmetic. */
  estimatedMs: number;
  /** The step run alone through the storm model at its advised settings. */
  simulated: PacingCheck;
}

export interface AdviseReport {
  command: 'advise';
  scenario?: string;
  users: number;
  nodes: number;
  policy: { name: PacingPolicyName; description: string };
  /** Percent of each accept rate kept free for other connections. */
  headroomPct: number;
  params: StormParams;
  steps: StepAdvice[];
  /** The change with each step at its own advised settings: the sum of the steps' simulated times (null if one did not settle). */
  perStepMs: number | null;
  /**
   * receiver-budget: the acceptRate every node should declare for the whole change (its accept rate less the
   * headroom, less its most senders in any step); null under per-sender.
   */
  acceptRates: Record<string, number> | null;
  /**
   * One setting for the whole change (the agents' pacing is fleet-wide configuration): per-sender, the slowest step's;
   * receiver-budget, the declared rates above and the highest ceiling any step needs.
   */
  fleetWide: PacingCheck & { estimatedMs: number };
  /** Every node that drains (leaves in a paced step): the time it needs, against the agents' drainDeadlineMs. */
  drains: DrainAdvice[];
  /** The change at the current settings, for comparison. */
  current: PacingCheck;
}

/** A node draining in a step: users it hands over and the time they take, at the current and the advised settings. */
export interface DrainAdvice {
  step: string;
  node: string;
  users: number;
  nowMs: number;
  advisedMs: number;
}

/** A strategy's change as it happens, from the storm model's per-second connections. */
export interface DuringStep {
  /** Users that went through a disconnect. */
  disconnected: number;
  peakNodeArrivalsPerSec: number;
  /** Node-seconds past an accept rate. */
  overloadSeconds: number;
  /** Model seconds until the change settled (or the run stopped). */
  runSeconds: number;
  /**
   * Longest time a node that joined (or came back) spent below 90% of what it should hold while in the fleet, over
   * the horizon: with affinity its load once the step is over, without affinity its fair share.
   */
  newNodesUnderloadedSeconds: number;
  /** Nodes that joined and are still below 90% of their fair share when the change is over. */
  newNodesStillUnderloaded: string[];
  /** Σ over the seconds of the horizon of (max/mean − min/mean) over the fleet of that second: 0 is perfect balance. */
  imbalanceSeconds: number;
  /** Lowest min/mean seen in any second. */
  worstMinOverMean: number;
  /** Nodes that join or come back during the change. */
  joining: string[];
  /** Per second of the horizon: max/mean − min/mean over that second's fleet. */
  imbalance: number[];
  /** Users on each node at the end of each second. */
  connections: Record<string, number[]>;
}
