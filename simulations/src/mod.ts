// @wsring/sim: the engine behind `wsring-sim`, for scripts that want reports as values.
export { runPlan, planSteps, type PlanInput, type RunOptions } from './plan.js';
export { runCompare, STRATEGIES } from './compare.js';
export { runStorm } from './storm-run.js';
export { simulateStorm, type StormHooks, type StormInput, type StormStep, type TickState } from './storm.js';
export { DEFAULT_STORM_PARAMS, resolveStormParams } from './storm-params.js';
export { loadScenario, parseScenario } from './scenario.js';
export { buildNodes, expandSteps, type ZoneSpec } from './cluster.js';
export { balanceOf, minimumMoves } from './balance.js';
export { jumpHash } from './baselines.js';
export { renderPlanText } from './render/plan-text.js';
export { renderCompareText } from './render/compare-text.js';
export { renderStormText } from './render/storm-text.js';
export { renderHtml } from './render/html.js';
export { main, type CliIo } from './command.js';
export { SimError, type SimErrorCode } from './errors.js';
export type * from './types.js';
