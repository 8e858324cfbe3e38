// The simulated fleet: building the starting nodes and applying a scenario's steps to them, one after the other.
import { SimError } from './errors.js';
import type { DeployOf, DeployStrategy, ExpandedStep, SimNode, StepSpec } from './types.js';

/** How a rolling deploy may replace each node's process; `drain` is the default (see DeployStrategy). */
export const DEPLOY_STRATEGIES: readonly DeployStrategy[] = ['drain', 'handoff', 'restart'];
export const DEFAULT_DEPLOY_STRATEGY: DeployStrategy = 'drain';

export interface ZoneSpec {
  name: string;
  nodes: number;
  weight: number;
}

/** `count` nodes `node-0` .. with the given weights (the last weight repeats), or nodes per zone named `<zone>-<i>`. */
export function buildNodes(count: number, weights: number[] = [], zones: ZoneSpec[] = []): SimNode[] {
  if (zones.length > 0) {
    const nodes: SimNode[] = [];
    const names = new Set<string>();
    for (const z of zones) {
      if (!z.name || names.has(z.name)) throw new SimError('INVALID_OPTION', `zone name ${JSON.stringify(z.name)} is empty or repeated`);
      names.add(z.name);
      checkCount(z.nodes, `zone ${z.name}: nodes`, 1);
      checkWeight(z.weight, `zone ${z.name}`);
      for (let i = 0; i < z.nodes; i++) nodes.push({ id: `${z.name}-${i}`, weight: z.weight, zone: z.name });
    }
    return nodes;
  }
  checkCount(count, 'nodes', 1);
  weights.forEach((w, i) => checkWeight(w, `weights[${i}]`));
  return Array.from({ length: count }, (_, i) => ({ id: `node-${i}`, weight: weights.length ? weights[Math.min(i, weights.length - 1)] : 1 }));
}

export function checkWeight(w: unknown, where: string): asserts w is number {
  if (typeof w !== 'number' || !Number.isFinite(w) || !(w > 0)) {
    throw new SimError('INVALID_OPTION', `${where}: weight ${String(w)} must be a finite number > 0`);
  }
}

export function checkCount(n: unknown, where: string, min: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw new SimError('INVALID_OPTION', `${where}: ${String(n)} must be an integer >= ${min}`);
  }
}

/** The default label of a step, as printed in tables. */
export function stepLabel(step: StepSpec): string {
  if (step.label) return step.label;
  switch (step.kind) {
    case 'scale-out': return `scale out +${step.count}`;
    case 'scale-in': return `scale in -${step.count}`;
    case 'add': return `add ${shortList(step.nodes.map((n) => n.id))}`;
    case 'remove': return `remove ${shortList(step.ids)}`;
    case 'drain': return `drain ${shortList(step.ids)}`;
    case 'crash': return `crash ${shortList(step.ids)}`;
    case 'reweight': return `reweight ${shortList(Object.entries(step.weights).map(([id, w]) => `${id}=${w}`))}`;
    case 'reweight-zone': return `zone ${step.zone} weight ${step.weight}`;
    case 'rolling-deploy': {
      const how = step.strategy && step.strategy !== DEFAULT_DEPLOY_STRATEGY ? ` (${step.strategy})` : '';
      return `${step.ids ? `rolling deploy of ${step.ids.length}` : 'rolling deploy'}${how}`;
    }
  }
}

function shortList(items: string[]): string {
  return items.length <= 3 ? items.join(',') : `${items.slice(0, 2).join(',')},… (${items.length})`;
}

/**
 * Applies the steps in order. A rolling deploy becomes, for each node in turn, a drain and a return (strategy
 * `drain`), or one step that keeps the fleet as it is and names the node (`handoff`, `restart`).
 */
export function expandSteps(initial: SimNode[], steps: StepSpec[]): ExpandedStep[] {
  let fleet = initial.map((n) => ({ ...n }));
  const everSeen = new Set(fleet.map((n) => n.id));
  const out: ExpandedStep[] = [];
  const push = (group: number, step: StepSpec, label: string, after: SimNode[], deploy?: DeployOf) => {
    if (after.length === 0) throw new SimError('EMPTY_FLEET', `step ${group + 1} (${label}) would leave no node`);
    const departure = step.kind === 'crash' ? 'crash' : deploy?.strategy === 'restart' ? 'restart' : 'paced';
    out.push({ group, label, kind: step.kind, departure, before: fleet, after, ...(deploy ? { deploy } : {}) });
    fleet = after;
  };
  const requireIds = (ids: string[], where: string) => {
    if (!Array.isArray(ids) || ids.length === 0) throw new SimError('INVALID_SCENARIO', `${where}: needs at least one node id`);
    const have = new Set(fleet.map((n) => n.id));
    const named = new Set<string>();
    for (const id of ids) {
      if (!have.has(id)) throw new SimError('UNKNOWN_NODE', `${where}: no node ${JSON.stringify(id)} in the fleet`);
      if (named.has(id)) throw new SimError('DUPLICATE_NODE', `${where}: node ${JSON.stringify(id)} is named twice`);
      named.add(id);
    }
  };
  const freshId = (prefix: string) => {
    let i = fleet.filter((n) => n.id.startsWith(`${prefix}-`)).length;
    while (everSeen.has(`${prefix}-${i}`)) i++;
    everSeen.add(`${prefix}-${i}`);
    return `${prefix}-${i}`;
  };

  steps.forEach((step, g) => {
    const label = stepLabel(step);
    const where = `step ${g + 1} (${label})`;
    switch (step.kind) {
      case 'scale-out': {
        checkCount(step.count, `${where}: count`, 1);
        const weight = step.weight ?? 1;
        checkWeight(weight, where);
        const added: SimNode[] = [];
        for (let i = 0; i < step.count; i++) {
          const id = freshId(step.zone ?? 'node');
          added.push(step.zone ? { id, weight, zone: step.zone } : { id, weight });
        }
        push(g, step, label, [...fleet, ...added]);
        break;
      }
      case 'scale-in': {
        checkCount(step.count, `${where}: count`, 1);
        push(g, step, label, fleet.slice(0, Math.max(0, fleet.length - step.count)));
        break;
      }
      case 'add': {
        if (!Array.isArray(step.nodes) || step.nodes.length === 0) throw new SimError('INVALID_SCENARIO', `${where}: needs at least one node`);
        const have = new Set(fleet.map((n) => n.id));
        const added = step.nodes.map((n) => {
          if (typeof n.id !== 'string' || n.id === '') throw new SimError('INVALID_SCENARIO', `${where}: a node needs a non-empty id`);
          if (have.has(n.id)) throw new SimError('INVALID_SCENARIO', `${where}: node ${JSON.stringify(n.id)} is already in the fleet (use reweight)`);
          have.add(n.id);
          everSeen.add(n.id);
          const weight = n.weight ?? 1;
          checkWeight(weight, `${where}: ${n.id}`);
          return n.zone ? { id: n.id, weight, zone: n.zone } : { id: n.id, weight };
        });
        push(g, step, label, [...fleet, ...added]);
        break;
      }
      case 'remove':
      case 'drain':
      case 'crash': {
        requireIds(step.ids, where);
        const drop = new Set(step.ids);
        push(g, step, label, fleet.filter((n) => !drop.has(n.id)));
        break;
      }
      case 'reweight': {
        const entries = Object.entries(step.weights ?? {});
        requireIds(entries.map(([id]) => id), where);
        for (const [id, w] of entries) checkWeight(w, `${where}: ${id}`);
        push(g, step, label, fleet.map((n) => (Object.hasOwn(step.weights, n.id) ? { ...n, weight: step.weights[n.id] } : n)));
        break;
      }
      case 'reweight-zone': {
        checkWeight(step.weight, where);
        if (!fleet.some((n) => n.zone === step.zone)) throw new SimError('UNKNOWN_NODE', `${where}: no node in zone ${JSON.stringify(step.zone)}`);
        push(g, step, label, fleet.map((n) => (n.zone === step.zone ? { ...n, weight: step.weight } : n)));
        break;
      }
      case 'rolling-deploy': {
        const ids = step.ids ?? fleet.map((n) => n.id);
        requireIds(ids, where);
        const strategy = step.strategy ?? DEFAULT_DEPLOY_STRATEGY;
        if (!DEPLOY_STRATEGIES.includes(strategy)) throw new SimError('INVALID_SCENARIO', `${where}: strategy ${JSON.stringify(strategy)} is not one of ${DEPLOY_STRATEGIES.join(', ')}`);
        if (strategy !== 'drain') {
          // The ring keeps the node: same fleet before and after, the node's users reconnect to it once.
          for (const nodeId of ids) push(g, step, `deploy ${nodeId}: ${strategy}`, fleet, { strategy, node: nodeId });
          break;
        }
        for (const nodeId of ids) {
          const node = fleet.find((n) => n.id === nodeId)!;
          const at = fleet.indexOf(node);
          push(g, step, `deploy ${nodeId}: drain`, fleet.filter((n) => n !== node));
          push(g, step, `deploy ${nodeId}: back`, [...fleet.slice(0, at), node, ...fleet.slice(at)]);
        }
        break;
      }
      default:
        throw new SimError('INVALID_SCENARIO', `step ${g + 1}: unknown kind ${JSON.stringify((step as { kind: unknown }).kind)}`);
    }
  });
  return out;
}
