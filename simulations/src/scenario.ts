// Scenario files (YAML or JSON): a cluster, a list of steps, and optionally storm parameters.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Algorithm } from '@wsring/ring';
import { DEPLOY_STRATEGIES, buildNodes, type ZoneSpec } from './cluster.js';
import { SimError } from './errors.js';
import { STORM_PARAM_NAMES } from './storm-params.js';
import type { ClusterSpec, DeployStrategy, Scenario, SimNode, StepSpec, StormParams, UserSource } from './types.js';

const ALGORITHMS: readonly Algorithm[] = ['ring', 'maglev', 'rendezvous'];
const STEP_KINDS = ['scale-out', 'scale-in', 'add', 'remove', 'drain', 'crash', 'reweight', 'reweight-zone', 'rolling-deploy'] as const;

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new SimError('INVALID_SCENARIO', `${where}: ${what}`);
}

function isObj(x: unknown): x is Obj {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function onlyKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(where, `unknown field ${JSON.stringify(k)} (expected one of ${allowed.join(', ')})`);
}

function num(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(where, `${JSON.stringify(x)} is not a number`);
  return x;
}

function str(x: unknown, where: string): string {
  if (typeof x !== 'string' || x === '') fail(where, `${JSON.stringify(x)} is not a non-empty string`);
  return x;
}

function ids(x: unknown, where: string): string[] {
  if (typeof x === 'string') return [str(x, where)];
  if (!Array.isArray(x) || x.length === 0) fail(where, 'expected a node id or a non-empty list of ids');
  return x.map((v, i) => str(v, `${where}[${i}]`));
}

/** Reads and validates a scenario file. Relative users-file paths are taken from the scenario's directory. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SimError('INVALID_SCENARIO', `cannot read scenario ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    // The YAML parser's message ends with a code frame over several lines: its first line says what and where.
    throw new SimError('INVALID_SCENARIO', `${path} is neither valid YAML nor JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseScenario(doc, path, dirname(resolve(path)));
}

export function parseScenario(doc: unknown, where = 'scenario', baseDir = process.cwd()): Scenario {
  if (!isObj(doc)) fail(where, 'expected an object with cluster and steps');
  onlyKeys(doc, ['name', 'cluster', 'steps', 'storm'], where);
  const scenario: Scenario = {
    cluster: parseCluster(doc.cluster, `${where}: cluster`, baseDir),
    steps: parseSteps(doc.steps, `${where}: steps`),
  };
  if (doc.name !== undefined) scenario.name = str(doc.name, `${where}: name`);
  if (doc.storm !== undefined) scenario.storm = parseStormParams(doc.storm, `${where}: storm`);
  return scenario;
}

function parseCluster(c: unknown, where: string, baseDir: string): ClusterSpec {
  if (!isObj(c)) fail(where, 'expected an object');
  onlyKeys(c, ['nodes', 'weights', 'zones', 'algorithm', 'ringSeed', 'pointsPerWeight', 'tableSize', 'users'], where);
  let nodes: SimNode[];
  if (c.zones !== undefined) {
    if (!Array.isArray(c.zones) || c.zones.length === 0) fail(`${where}.zones`, 'expected a non-empty list');
    const zones: ZoneSpec[] = c.zones.map((z, i) => {
      const w = `${where}.zones[${i}]`;
      if (!isObj(z)) fail(w, 'expected { name, nodes, weight }');
      onlyKeys(z, ['name', 'nodes', 'weight'], w);
      return { name: str(z.name, `${w}.name`), nodes: num(z.nodes, `${w}.nodes`), weight: z.weight === undefined ? 1 : num(z.weight, `${w}.weight`) };
    });
    nodes = buildNodes(0, [], zones);
  } else if (Array.isArray(c.nodes)) {
    nodes = c.nodes.map((n, i) => parseNode(n, `${where}.nodes[${i}]`));
    if (nodes.length === 0) fail(`${where}.nodes`, 'needs at least one node');
    const seen = new Set<string>();
    for (const n of nodes) {
      if (seen.has(n.id)) fail(`${where}.nodes`, `node id ${JSON.stringify(n.id)} appears twice`);
      seen.add(n.id);
    }
  } else {
    const weights = c.weights === undefined ? [] : Array.isArray(c.weights) ? c.weights.map((w, i) => num(w, `${where}.weights[${i}]`)) : fail(`${where}.weights`, 'expected a list of numbers');
    nodes = buildNodes(c.nodes === undefined ? 8 : num(c.nodes, `${where}.nodes`), weights);
  }
  const algorithm = (c.algorithm ?? 'ring') as Algorithm;
  if (!ALGORITHMS.includes(algorithm)) fail(`${where}.algorithm`, `${JSON.stringify(c.algorithm)} is not one of ${ALGORITHMS.join(', ')}`);
  const cluster: ClusterSpec = {
    nodes,
    algorithm,
    ringSeed: c.ringSeed === undefined ? 0 : num(c.ringSeed, `${where}.ringSeed`),
    users: parseUsers(c.users, `${where}.users`, baseDir),
  };
  if (c.pointsPerWeight !== undefined) cluster.pointsPerWeight = num(c.pointsPerWeight, `${where}.pointsPerWeight`);
  if (c.tableSize !== undefined) cluster.tableSize = num(c.tableSize, `${where}.tableSize`);
  return cluster;
}

function parseNode(n: unknown, where: string): SimNode {
  if (typeof n === 'string') return { id: str(n, where), weight: 1 };
  if (!isObj(n)) fail(where, 'expected a node id or { id, weight, zone }');
  onlyKeys(n, ['id', 'weight', 'zone'], where);
  const node: SimNode = { id: str(n.id, `${where}.id`), weight: n.weight === undefined ? 1 : num(n.weight, `${where}.weight`) };
  if (!(node.weight > 0)) fail(`${where}.weight`, `${node.weight} must be > 0`);
  if (n.zone !== undefined) node.zone = str(n.zone, `${where}.zone`);
  return node;
}

function parseUsers(u: unknown, where: string, baseDir: string): UserSource {
  if (u === undefined) return { kind: 'synthetic', count: 100_000 };
  if (typeof u === 'number') {
    if (!Number.isInteger(u) || u < 0) fail(where, `${u} must be an integer >= 0`);
    return { kind: 'synthetic', count: u };
  }
  if (isObj(u)) {
    onlyKeys(u, ['file'], where);
    return { kind: 'file', path: resolve(baseDir, str(u.file, `${where}.file`)) };
  }
  fail(where, 'expected a count or { file: path }');
}

function parseSteps(s: unknown, where: string): StepSpec[] {
  if (!Array.isArray(s) || s.length === 0) fail(where, 'expected a non-empty list of steps');
  return s.map((step, i) => parseStep(step, `${where}[${i}]`));
}

function parseStep(step: unknown, where: string): StepSpec {
  if (!isObj(step)) fail(where, `expected an object like { scale-out: 2 }`);
  const kinds = Object.keys(step).filter((k) => k !== 'label');
  if (kinds.length !== 1) fail(where, `expected exactly one of ${STEP_KINDS.join(', ')} (and optionally label)`);
  const kind = kinds[0] as (typeof STEP_KINDS)[number];
  const v = step[kind];
  const w = `${where}.${kind}`;
  const label = step.label === undefined ? {} : { label: str(step.label, `${where}.label`) };
  switch (kind) {
    case 'scale-out': {
      if (typeof v === 'number') return { kind, count: v, ...label };
      if (!isObj(v)) fail(w, 'expected a count or { count, weight, zone }');
      onlyKeys(v, ['count', 'weight', 'zone'], w);
      return {
        kind,
        count: num(v.count, `${w}.count`),
        ...(v.weight === undefined ? {} : { weight: num(v.weight, `${w}.weight`) }),
        ...(v.zone === undefined ? {} : { zone: str(v.zone, `${w}.zone`) }),
        ...label,
      };
    }
    case 'scale-in':
      return { kind, count: num(v, w), ...label };
    case 'add': {
      const list = Array.isArray(v) ? v : [v];
      return { kind, nodes: list.map((n, i) => parseNode(n, `${w}[${i}]`)), ...label };
    }
    case 'remove':
    case 'drain':
    case 'crash':
      return { kind, ids: ids(v, w), ...label };
    case 'reweight': {
      if (!isObj(v)) fail(w, 'expected { <node id>: <weight>, ... }');
      const weights: Record<string, number> = {};
      for (const [id, x] of Object.entries(v)) weights[id] = num(x, `${w}.${id}`);
      return { kind, weights, ...label };
    }
    case 'reweight-zone': {
      if (!isObj(v)) fail(w, 'expected { zone, weight }');
      onlyKeys(v, ['zone', 'weight'], w);
      return { kind, zone: str(v.zone, `${w}.zone`), weight: num(v.weight, `${w}.weight`), ...label };
    }
    case 'rolling-deploy': {
      if (v === 'all' || v === true || v === null) return { kind, ...label };
      if (!isObj(v)) return { kind, ids: ids(v, w), ...label };
      // { ids?: all | [ids], strategy?: drain | handoff | restart }
      onlyKeys(v, ['ids', 'strategy'], w);
      const strategy = v.strategy === undefined ? {} : { strategy: deployStrategy(v.strategy, `${w}.strategy`) };
      const only = v.ids === undefined || v.ids === 'all' ? {} : { ids: ids(v.ids, `${w}.ids`) };
      return { kind, ...only, ...strategy, ...label };
    }
    default:
      fail(where, `unknown step ${JSON.stringify(kind)} (expected one of ${STEP_KINDS.join(', ')})`);
  }
}

function deployStrategy(x: unknown, where: string): DeployStrategy {
  if (!DEPLOY_STRATEGIES.includes(x as DeployStrategy)) fail(where, `${JSON.stringify(x)} is not one of ${DEPLOY_STRATEGIES.join(', ')}`);
  return x as DeployStrategy;
}

export function parseStormParams(p: unknown, where: string): Partial<StormParams> {
  if (!isObj(p)) fail(where, 'expected an object');
  onlyKeys(p, STORM_PARAM_NAMES, where);
  return p as Partial<StormParams>;
}
