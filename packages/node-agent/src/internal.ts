// @wsring/node-agent/internal: the agent's parts, for the cross-package model tests, the simulator and
// benchmarks. Not a stable API: names and shapes change with the agent.
export { decideAdmission, type Admission, type AdmissionInput } from './admission.js';
export { Admitter, type AdmitterOptions, type AdmitterParts } from './admitter.js';
export { every, withClockDeadline } from './clock.js';
export { WARMUP_FLOOR, warmingFraction, warmingRate } from './warmup.js';
export { senderBurst } from './options.js';
export { CATCH_UP_MS, gateBurst, gateDepth, gateWindow } from './admission-gate.js';
export { ClientConnection, ConnectionRegistry } from './connections.js';
export { EpochAgreement, type AgreedEpoch, type EpochAgreementOptions } from './epoch.js';
export { FledNodes, MemberTable } from './liveness.js';
export { memberKey, TOPOLOGY_KEY } from './membership/records.js';
export { AgentMetrics } from './metrics.js';
export { RECORD_LIMITS, resolveOptions, type ResolvedOptions } from './options.js';
export { LANE_BURST_MS, LaneSchedule, laneBurst, type Lane, type LaneScheduleOptions } from './lane-schedule.js';
export { Pacer, type PacerOptions } from './pacer.js';
export { fallbackShare, receiverShares, rendezvousFlows, sharesOfFlows } from './receiver-budgets.js';
export { planMoves, planReturns, targetOf, type Move, type Plan, type PlanInput } from './planner.js';
export { Rebalancer, type RebalancerListener, type RebalancerOptions, type RebalancerParts } from './rebalancer.js';
export { Registration, type RegistrationOptions } from './registration.js';
export { TokenBucket } from './token-bucket.js';
export { TopologyTracker, buildRing, placementSignature, topologyNodes, type SettledMembers } from './topology.js';
export { BatchedReplayReader, type ReplayReader, type ReplayReadStats } from './delivery/replay-reader.js';
export { handOff, type HandoffParts } from './handoff.js';
export { restartInPlace, restartSlots, type RestartParts } from './restart-in-place.js';
