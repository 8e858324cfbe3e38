// The `wsring-sim` command line: options -> scenario -> report -> text, JSON or HTML.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { RingError, type Algorithm } from '@wsring/ring';
import { DEFAULT_DEPLOY_STRATEGY, DEPLOY_STRATEGIES, buildNodes, type ZoneSpec } from './cluster.js';
import { SimError, errorLine } from './errors.js';
import { STRATEGIES, runCompare } from './compare.js';
import { runPlan, type RunOptions } from './plan.js';
import { parseSessionsPerUser, type SessionsPerUser } from './sessions.js';
import { DEFAULT_STORM_PARAMS, STORM_PARAM_NAMES, resolveStormParams } from './storm-params.js';
import { runStorm } from './storm-run.js';
import { DEFAULT_HEADROOM_PCT, runAdvise } from './advise.js';
import { renderAdviseText } from './render/advise-text.js';
import { silentProgress, terminalProgress } from './progress.js';
import { renderCompareText } from './render/compare-text.js';
import { renderPlanText } from './render/plan-text.js';
import { renderStormText } from './render/storm-text.js';
import { loadScenario } from './scenario.js';
import { DEFAULT_MAX_USERS } from './users.js';
import type { DeployStrategy, Report, Scenario, StepSpec, StormParams, StrategyName } from './types.js';
import { fleetChange, previewOnFleet } from './fleet.js';
import { renderFleetText } from './render/fleet-text.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars show by default only then). */
  stderrIsTTY: boolean;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stderrIsTTY: Boolean(process.stderr.isTTY),
};

/** "1000000", "1_000_000", "1e6", "250k", "10M" -> a non-negative integer. */
export function parseCount(value: string): number {
  const m = /^([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)([kKmM]?)$/.exec(value.trim());
  const n = m ? Number(m[1].replaceAll('_', '')) * (m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a count (examples: 1000, 1e6, 250k, 10M)`);
  return n;
}

function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a number`);
  return n;
}

/** Hashing threads: a whole number from 1 to the cores of this machine (more would only be capped). */
function parseWorkers(value: string): number {
  const n = Number(value);
  const cores = availableParallelism();
  if (!Number.isInteger(n) || n < 1 || n > cores) throw new InvalidArgumentError(`--workers ${value}: expected a whole number from 1 to ${cores} (the cores of this machine)`);
  return n;
}

function parseList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

function parseZones(value: string): ZoneSpec[] {
  return parseList(value).map((z) => {
    const [name, nodes, weight] = z.split(':');
    if (!name || nodes === undefined) throw new InvalidArgumentError(`zone ${JSON.stringify(z)}: expected name:nodes[:weight]`);
    return { name, nodes: parseCount(nodes), weight: weight === undefined ? 1 : parseNumber(weight) };
  });
}

function parseStrategies(value: string): StrategyName[] {
  const list = parseList(value);
  for (const s of list) {
    if (!STRATEGIES.includes(s as StrategyName)) throw new InvalidArgumentError(`unknown strategy ${JSON.stringify(s)} (expected some of ${STRATEGIES.join(', ')})`);
  }
  return list as StrategyName[];
}

function parseReweight(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of parseList(value)) {
    const at = item.lastIndexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`${JSON.stringify(item)}: expected id=weight`);
    out[item.slice(0, at)] = parseNumber(item.slice(at + 1));
  }
  return out;
}

/** "n5,n6=2" -> nodes with optional weights. */
function parseJoin(value: string): { id: string; weight?: number }[] {
  return parseList(value).map((item) => {
    const at = item.lastIndexOf('=');
    return at <= 0 ? { id: item } : { id: item.slice(0, at), weight: parseNumber(item.slice(at + 1)) };
  });
}

/** "n3=n9,n4=n10" -> n9 takes n3's place, n10 takes n4's. */
function parseHandoff(value: string): { from: string; to: string }[] {
  return parseList(value).map((item) => {
    const [from, to, extra] = item.split('=');
    if (!from || !to || extra !== undefined) throw new InvalidArgumentError(`${JSON.stringify(item)}: expected from=to`);
    return { from, to };
  });
}

/** `plan --fleet`: the live fleet's options. */
interface FleetCliOptions {
  fleet?: string[];
  bucket?: string;
  deadlineMs?: number;
  listUsers?: boolean;
  join?: { id: string; weight?: number }[];
  handoff?: { from: string; to: string }[];
}

interface CommonOptions {
  scenario?: string;
  nodes: number;
  weights?: number[];
  zones?: ZoneSpec[];
  algorithm: Algorithm;
  users: number;
  usersFile?: string;
  sessionsPerUser?: SessionsPerUser;
  ringSeed: number;
  pointsPerWeight?: number;
  tableSize?: number;
  add?: number;
  addWeight?: number;
  addZone?: string;
  remove?: string[];
  drain?: string[];
  crash?: string[];
  reweight?: Record<string, number>;
  rollingDeploy?: boolean;
  deploy?: DeployStrategy;
  json?: boolean;
  html?: string;
  progress?: boolean;
  timing: boolean;
  seed: number;
  workers?: number;
  maxUsers: number;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-s, --scenario <file>', 'scenario file (YAML or JSON): cluster and steps; options given here override its cluster')
    .option('-n, --nodes <count>', 'nodes in the fleet, named node-0, node-1, ...', parseCount, 8)
    .option('--weights <list>', 'weights of the nodes in order, comma-separated (the last repeats)', (v) => parseList(v).map(parseNumber))
    .option('--zones <list>', 'zones instead of --nodes: name:nodes:weight,... (nodes named <zone>-<i>)', parseZones)
    .addOption(new Option('-a, --algorithm <name>', 'placement algorithm').choices(['ring', 'maglev', 'rendezvous']).default('ring'))
    .option('-u, --users <count>', 'synthetic users user-0 .. user-<count-1> (1e6, 250k, 10M are fine)', parseCount, 100_000)
    .option('--users-file <path>', 'one user id per line, instead of synthetic users')
    .option('--sessions-per-user <mean|dist>', 'sockets per user (tabs, devices), to count sockets beside users: a mean such as 1.6, or sessions:weight pairs such as 1:0.6,2:0.25,3:0.1,4:0.05', parseSessionsPerUser)
    .option('--ring-seed <n>', "seed of the ring's hashes (production default 0)", parseCount, 0)
    .option('--points-per-weight <n>', 'ring: points per unit of weight (library default 160)', parseNumber)
    .option('--table-size <prime>', 'maglev: lookup table size (library default: smallest prime >= max(65537, 100 * nodes))', parseCount)
    .option('--add <k>', 'change: add k nodes', parseCount)
    .option('--add-weight <w>', 'weight of the added nodes', parseNumber)
    .option('--add-zone <zone>', 'zone of the added nodes (named <zone>-<i>)')
    .option('--remove <k|ids>', 'change: remove the k newest nodes, or the listed ids', parseList)
    .option('--drain <ids>', 'change: drain the listed nodes (their users move at the agent pace)', parseList)
    .option('--crash <ids>', 'change: the listed nodes crash (their users drop at once)', parseList)
    .option('--reweight <id=w,...>', 'change: set node weights', parseReweight)
    .option('--rolling-deploy', 'change: every node in turn is deployed (drains and comes back, or as --deploy says)')
    .addOption(new Option('--deploy <strategy>', `how a rolling deploy replaces each node's process: drain (the node leaves the ring and comes back; users move twice), handoff (a successor under the same id takes each user once) or restart (restart in place: each user comes back to the node at its slot); applies to --rolling-deploy and to a scenario's rolling deploys that name none (default ${DEFAULT_DEPLOY_STRATEGY})`).choices([...DEPLOY_STRATEGIES]))
    .option('--json', 'print the report as JSON on stdout instead of text')
    .option('--html <file>', 'also write a self-contained HTML report with SVG charts')
    .option('--progress', 'show progress bars on stderr (default: only when stderr is a terminal)')
    .option('--no-progress', 'never show progress bars')
    .option('--no-timing', 'leave wall-clock figures out of the text output (for diffable output)')
    .option('--seed <n>', 'seed of every random draw of the simulation (storm jitter, backoff)', parseCount, 1)
    .option('--workers <n>', `threads hashing synthetic users, 1 to the cores (${availableParallelism()} here); default 1, 2 pays only with two idle cores and 1M+ users`, parseWorkers)
    .option('--max-users <n>', 'refuse more users than this (memory: 4 bytes a user, 8 for rendezvous)', parseCount, DEFAULT_MAX_USERS);
}

/** Change options, in a fixed order, each becoming one step. */
function stepsFromOptions(o: CommonOptions): StepSpec[] {
  const steps: StepSpec[] = [];
  if (o.add !== undefined) steps.push({ kind: 'scale-out', count: o.add, ...(o.addWeight === undefined ? {} : { weight: o.addWeight }), ...(o.addZone ? { zone: o.addZone } : {}) });
  const join = (o as CommonOptions & FleetCliOptions).join;
  if (join) steps.push({ kind: 'add', nodes: join.map((n) => ({ id: n.id, weight: n.weight ?? o.addWeight ?? 1 })) });
  if (o.remove) {
    const only = o.remove.length === 1 && /^[0-9]+$/.test(o.remove[0]);
    steps.push(only ? { kind: 'scale-in', count: Number(o.remove[0]) } : { kind: 'remove', ids: o.remove });
  }
  if (o.drain) steps.push({ kind: 'drain', ids: o.drain });
  if (o.crash) steps.push({ kind: 'crash', ids: o.crash });
  if (o.reweight) steps.push({ kind: 'reweight', weights: o.reweight });
  if (o.rollingDeploy) steps.push({ kind: 'rolling-deploy', ...(o.deploy ? { strategy: o.deploy } : {}) });
  return steps;
}

/** The scenario from the file (if any) with command-line options layered on top. */
export function scenarioFromOptions(o: CommonOptions, cmd: Command): Scenario {
  const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const base: Scenario | undefined = o.scenario ? loadScenario(o.scenario) : undefined;
  const cliSteps = stepsFromOptions(o);
  const cluster = base?.cluster ?? { nodes: buildNodes(o.nodes, o.weights, o.zones), algorithm: o.algorithm, ringSeed: o.ringSeed, users: { kind: 'synthetic' as const, count: o.users } };
  if (base) {
    if (given('nodes') || given('weights') || given('zones')) cluster.nodes = buildNodes(o.nodes, o.weights, o.zones);
    if (given('algorithm')) cluster.algorithm = o.algorithm;
    if (given('ringSeed')) cluster.ringSeed = o.ringSeed;
    if (given('users')) cluster.users = { kind: 'synthetic', count: o.users };
  }
  if (o.usersFile) cluster.users = { kind: 'file', path: o.usersFile };
  if (o.sessionsPerUser) cluster.sessionsPerUser = o.sessionsPerUser;
  if (o.pointsPerWeight !== undefined) cluster.pointsPerWeight = o.pointsPerWeight;
  if (o.tableSize !== undefined) cluster.tableSize = o.tableSize;
  // --deploy: the strategy of every rolling deploy that names none.
  const deploy = o.deploy;
  const baseSteps = (base?.steps ?? []).map((s) => (deploy && s.kind === 'rolling-deploy' && !s.strategy ? { ...s, strategy: deploy } : s));
  const steps = [...baseSteps, ...cliSteps];
  if (deploy && !steps.some((s) => s.kind === 'rolling-deploy')) throw new SimError('INVALID_OPTION', '--deploy says how a rolling deploy goes: add --rolling-deploy (or a scenario with a rolling-deploy step)');
  if ((o as CommonOptions & FleetCliOptions).handoff) throw new SimError('INVALID_OPTION', '--handoff previews the live fleet only: add --fleet <nats-url>');
  if (steps.length === 0) throw new SimError('INVALID_OPTION', 'nothing to preview: give a change (--add, --join, --remove, --drain, --crash, --reweight, --rolling-deploy) or --scenario');
  return { ...(base?.name ? { name: base.name } : {}), cluster, steps, ...(base?.storm ? { storm: base.storm } : {}) };
}

function runOptions(o: CommonOptions, io: CliIo): RunOptions {
  const show = o.progress ?? io.stderrIsTTY;
  return { workers: o.workers, maxUsers: o.maxUsers, progress: show ? terminalProgress() : silentProgress };
}

async function output(report: Report, o: CommonOptions, io: CliIo, text: () => string): Promise<void> {
  if (o.html) {
    const { renderHtml } = await import('./render/html.js');
    const html = renderHtml(report);
    try {
      writeFileSync(o.html, html);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SimError('OUTPUT_FILE', `cannot write the HTML report ${o.html}: ${err.code ?? err.message}`);
    }
  }
  io.stdout(o.json ? `${JSON.stringify(report, null, 2)}\n` : text());
  if (o.html && !o.json) io.stdout(`\nHTML report: ${o.html}\n`);
}

/** The storm model's options, shared by `storm` and `advise`. */
function addStormOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--policy <name>', `how the agents pace moves: receiver-budget (today's agents: senders share each receiver's declared acceptRate) or per-sender (the agents before: ratePerSec per agent) (default ${DEFAULT_STORM_PARAMS.policy})`).choices(['receiver-budget', 'per-sender']))
    .option('--accept-rate <n>', `receiver-budget: the acceptRate every agent declares, moved users a second its senders share (default the agent's, ${DEFAULT_STORM_PARAMS.acceptRate})`, parseNumber)
    .option('--node-accept-rate <id=n,...>', 'receiver-budget: the acceptRate particular nodes declare, overriding --accept-rate for them', parseReweight)
    .option('--rate-per-sec <n>', `reconnect frames each agent sends per second; under receiver budgets the sender's ceiling (default ${DEFAULT_STORM_PARAMS.ratePerSec})`, parseNumber)
    .option('--burst <n>', `frames an idle agent may send at once (default: 250 ms of --rate-per-sec, as the agents; ${DEFAULT_STORM_PARAMS.burst} at ${DEFAULT_STORM_PARAMS.ratePerSec}/s)`, parseNumber)
    .option('--jitter-ms <ms>', `the sending agent holds each moved user U(0, jitterMs) before its frame may go; the client reconnects at once (default ${DEFAULT_STORM_PARAMS.jitterMs})`, parseNumber)
    .option('--grace-ms <ms>', `a client that ignores its frame is closed this long after it (default ${DEFAULT_STORM_PARAMS.graceMs})`, parseNumber)
    .option('--warmup-ms <ms>', `a joining node or handoff successor declares a fifth of its acceptRate when it begins serving, the whole this long after (the agent's warmupMs, default ${DEFAULT_STORM_PARAMS.warmupMs}; 0: at once)`, parseNumber)
    .option('--admission-wait-ms <ms>', `targeted: each receiver's agent holds the users its capacity accepted at its admission gate and admits them at the rate it declares now (warming up included); one waits at most this long, then passes anyway, counted as an overflow (the agent's admissionWaitMs, default ${DEFAULT_STORM_PARAMS.admissionWaitMs}; 0: no gate)`, parseNumber)
    .option('--restart-back-in-ms <ms>', `restart-in-place deploys: when the next process serves; the i-th user comes back after it + i / acceptRate (the agent's restartBackInMs, default ${DEFAULT_STORM_PARAMS.restartBackInMs})`, parseNumber)
    .option('--restart-takes-ms <ms>', 'restart-in-place deploys: when the new process really serves (default restartBackInMs, as planned); users whose slot comes before it find the node down, fail over to stand-ins and are sent back, paced, once it serves (they move twice); past the fleet\'s hold of the node the ring drops it', parseNumber)
    .option('--drain-deadline-ms <ms>', `the agents' drain deadline: a draining node closes the users it still holds then (default ${DEFAULT_STORM_PARAMS.drainDeadlineMs}); advise and storm warn when a drain needs longer`, parseNumber)
    .option('--ignore-pct <pct>', `percent of clients that ignore the frame: a reconnect frame (closed after graceMs), or a restart frame (closed with no slot, they find the node down and fail over) (default ${DEFAULT_STORM_PARAMS.ignorePct})`, parseNumber)
    .option('--backoff-base-ms <ms>', `client backoff: attempt n (0 = the first after a drop, n after n refusals) comes rtt + U(0, min(cap, base * 2^n)) later (default ${DEFAULT_STORM_PARAMS.backoffBaseMs})`, parseNumber)
    .option('--backoff-cap-ms <ms>', `client backoff cap (default ${DEFAULT_STORM_PARAMS.backoffCapMs})`, parseNumber)
    .option('--rtt-ms <ms>', `round-trip time client to node (default ${DEFAULT_STORM_PARAMS.rttMs})`, parseNumber)
    .option('--accept-per-sec <n>', `connection attempts a node accepts per second; more are refused (default ${DEFAULT_STORM_PARAMS.acceptPerSec})`, parseNumber)
    .option('--node-accept-per-sec <id=n,...>', 'accept rates of particular nodes, overriding --accept-per-sec for them (new nodes too: node-8=500)', parseReweight)
    .option('--accept-burst-ms <ms>', `accept capacity a node can bank (its backlog), in ms of acceptPerSec (default ${DEFAULT_STORM_PARAMS.acceptBurstMs})`, parseNumber)
    .addOption(new Option('--lb <policy>', `baseline load balancer (default ${DEFAULT_STORM_PARAMS.lb})`).choices(['least-connections', 'round-robin']))
    .addOption(new Option('--lb-drop <whom>', `whom the baseline drops on a change (default ${DEFAULT_STORM_PARAMS.lbDrop})`).choices(['all', 'affected']))
    .option('--tick-ms <ms>', `model time step, a divisor of 1000 (default ${DEFAULT_STORM_PARAMS.tickMs})`, parseNumber)
    .option('--max-step-ms <ms>', `give up on a step that has not settled after this long (default ${DEFAULT_STORM_PARAMS.maxStepMs})`, parseNumber);
}

/** The scenario, and the storm parameters: defaults, then the scenario's, then the command line's. */
function stormScenario(o: CommonOptions & Partial<StormParams>, cmd: Command): { scenario: Scenario; params: StormParams } {
  const scenario = scenarioFromOptions(o, cmd);
  const fromCli: Partial<StormParams> = {};
  for (const name of STORM_PARAM_NAMES) if (name !== 'seed' && o[name] !== undefined) (fromCli as Record<string, unknown>)[name] = o[name];
  const seed = cmd.getOptionValueSource('seed') === 'cli' || scenario.storm?.seed === undefined ? { seed: o.seed } : {};
  return { scenario, params: resolveStormParams(scenario.storm ?? {}, fromCli, seed) };
}

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('wsring-sim')
    .description('Preview a rebalance of a wsring fleet before anyone runs it: users moved, load per node, reconnect waves.')
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // Commander's messages ("error: ...", sometimes a suggestion on a second line) become the one documented line.
      outputError: (message, write) => write(errorLine('USAGE', `${message.replace(/^error: /, '')} (--help lists the options)`)),
    })
    .exitOverride();

  addCommonOptions(
    program
      .command('plan')
      .description('users moved per step (with the theoretical minimum), load per node before and after, balance, time taken; with --fleet, on the live fleet\'s own users'),
  )
    .option('--join <id[=w],...>', 'change: the named nodes join (with an optional weight each)', parseJoin)
    .option('--handoff <from=to,...>', 'change (--fleet only): node `to` takes node `from`\'s place and weight', parseHandoff)
    .option('--fleet <nats-url>', 'preview the change on the live fleet behind this NATS (comma-separated URLs): every agent counts its own connected users that would move; nothing changes', parseList)
    .option('--bucket <name>', 'with --fleet: the fleet\'s membership bucket (default wsring)')
    .option('--deadline-ms <ms>', 'with --fleet: how long to wait for every agent\'s answer; agents later than that are named (default 2000)', parseCount)
    .option('--list-users', 'with --fleet: list the moved user ids per (from, to) (in --json; the text shows the first few)')
    .action(async (o: CommonOptions & FleetCliOptions, cmd: Command) => {
      if (o.fleet) return fleetPlan(o, cmd, io);
      for (const name of ['bucket', 'deadlineMs', 'listUsers'] as const) if (o[name] !== undefined) throw new SimError('INVALID_OPTION', `--${kebab(name)} needs --fleet <nats-url>`);
      const scenario = scenarioFromOptions(o, cmd);
      const report = await runPlan({ cluster: scenario.cluster, steps: scenario.steps, scenario: scenario.name }, runOptions(o, io));
      await output(report, o, io, () => renderPlanText(report, { timing: o.timing }));
    });

  addCommonOptions(
    program
      .command('compare')
      .description('the same fleet and change under ring, maglev, rendezvous, hash-mod-n, jump hash, round-robin and least-connections: users moved against balance'),
  )
    .option('--no-during', 'skip the storm model run per strategy (what happens during the change): for very large fleets')
    .option('--strategies <list>', `only these strategies, comma-separated (default all: ${STRATEGIES.join(', ')})`, parseStrategies)
    .action(async (o: CommonOptions & { strategies?: StrategyName[]; during: boolean }, cmd: Command) => {
      const scenario = scenarioFromOptions(o, cmd);
      const stormParams = resolveStormParams(scenario.storm ?? {}, cmd.getOptionValueSource('seed') === 'cli' || scenario.storm?.seed === undefined ? { seed: o.seed } : {});
      const report = await runCompare({ cluster: scenario.cluster, steps: scenario.steps, scenario: scenario.name }, { ...runOptions(o, io), strategies: o.strategies, stormParams, during: o.during });
      await output(report, o, io, () => renderCompareText(report, { timing: o.timing }));
    });

  addStormOptions(
    addCommonOptions(
      program
        .command('storm')
        .description('the reconnect wave over time: attempts per second and connections per node, targeted paced moves against dropping users through a load balancer'),
    ),
  ).action(async (o: CommonOptions & Partial<StormParams>, cmd: Command) => {
    const { scenario, params } = stormScenario(o, cmd);
    const report = await runStorm({ cluster: scenario.cluster, steps: scenario.steps, scenario: scenario.name }, params, runOptions(o, io));
    await output(report, o, io, () => renderStormText(report));
  });

  addStormOptions(
    addCommonOptions(
      program
        .command('advise')
        .description("how fast can the change go safely: per step, the agents' pacing that keeps every receiver within its accept rate, the time the change then takes, checked in the storm model"),
    ),
  )
    .option('--headroom-pct <pct>', `percent of every accept rate kept free for other connections (default ${DEFAULT_HEADROOM_PCT})`, parseNumber)
    .action(async (o: CommonOptions & Partial<StormParams> & { headroomPct?: number }, cmd: Command) => {
      const { scenario, params } = stormScenario(o, cmd);
      const headroomPct = o.headroomPct ?? DEFAULT_HEADROOM_PCT;
      if (!(headroomPct >= 0 && headroomPct < 100)) throw new SimError('INVALID_OPTION', `--headroom-pct ${headroomPct} must be at least 0 and below 100`);
      const report = await runAdvise({ cluster: scenario.cluster, steps: scenario.steps, scenario: scenario.name }, params, { ...runOptions(o, io), headroomPct });
      await output(report, o, io, () => renderAdviseText(report));
    });

  return program;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `plan --fleet`: the change asked of the live fleet; options that describe a synthetic fleet do not apply. */
async function fleetPlan(o: CommonOptions & FleetCliOptions, cmd: Command, io: CliIo): Promise<void> {
  const notHere: [string, string][] = [
    ['scenario', 'a scenario describes a synthetic fleet'],
    ['nodes', 'the live fleet has its own nodes'],
    ['weights', 'the live fleet has its own weights'],
    ['zones', 'the live fleet has its own nodes'],
    ['algorithm', 'the live fleet has its own placement'],
    ['users', 'the live fleet has its own users'],
    ['usersFile', 'the live fleet has its own users'],
    ['add', 'name the nodes that join: --join <ids>'],
    ['crash', 'a crash places users like --remove <ids>'],
    ['rollingDeploy', 'preview one step at a time: --drain <id>'],
    ['deploy', 'preview one step at a time: --drain <id>'],
    ['html', 'the live preview has no HTML report yet: use --json'],
  ];
  for (const [name, why] of notHere) {
    if (cmd.getOptionValueSource(name) === 'cli') throw new SimError('INVALID_OPTION', `--${kebab(name)} does not go with --fleet: ${why}`);
  }
  if (o.remove && o.remove.length === 1 && /^[0-9]+$/.test(o.remove[0])) throw new SimError('INVALID_OPTION', '--remove with --fleet takes node ids, not a count');
  const join = o.join?.map((n) => (n.weight === undefined && o.addWeight !== undefined ? { ...n, weight: o.addWeight } : n));
  const change = fleetChange({ join, remove: o.remove, drain: o.drain, reweight: o.reweight, handoff: o.handoff });
  const preview = await previewOnFleet({ servers: o.fleet!, bucket: o.bucket, deadlineMs: o.deadlineMs, users: o.listUsers === true }, change);
  io.stdout(o.json ? `${JSON.stringify(preview, null, 2)}\n` : renderFleetText(preview, o.fleet!.join(','), { timing: o.timing }));
}

/** Runs the CLI; resolves to the process exit code. Bad input is a one-line message and code 2, never a stack trace. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    // Help and version exit 0; every usage error exits 2, like the errors below.
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return err.exitCode === 0 ? 0 : 2;
    if (e instanceof SimError) io.stderr(errorLine(e.code, e.message));
    else if (e instanceof RingError) io.stderr(errorLine(e.code, e.message));
    // Anything else is a bug of the simulator: still one line (set WSRING_SIM_DEBUG=1 for the stack).
    else if (process.env.WSRING_SIM_DEBUG) throw e;
    else io.stderr(errorLine('INTERNAL', `${e instanceof Error ? e.message : String(e)} (WSRING_SIM_DEBUG=1 for the stack)`));
    return 2;
  }
}
