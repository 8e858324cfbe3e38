// @wsring/client/internal: the client's parts that its own tests, the agent's tests and wsring-sim use but
// applications should not: no stability promise, names may change with any release. The public API is mod.ts.
export { backoffCeiling, backoffDelay } from './backoff.js';
export { initialPosition, judgeCheckpoint, judgeGap, judgeMessage, judgeSynced, type Position, type Verdict } from './delivery.js';
export { initialContext, start, transition, transitions, type Context, type Effect, type Input, type MachineConfig, type MoveFrameInput, type Step } from './machine.js';
export { fetchTopology, loadTopology, sameUrl, topologyUrl } from './topology.js';
export type { LoadedTopology } from './types.js';
