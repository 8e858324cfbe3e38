// deploy/: the Kubernetes manifests, the systemd unit and the Dockerfile agree with the agent they run. Every flag
// and WSRING_ variable they use exists in `wsring-agent --help`, every config key parses, every probe path is
// served by a real agent (readiness fails while full or draining, liveness does not), the grace periods outlast
// the drain deadline, and kubectl (when installed) accepts the manifests.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createAgent, MemoryMembership, type Agent } from '@wsring/node-agent';
import { parseConfigFile } from '../../packages/node-agent/src/cli-config.js';
import { parse as parseYaml } from 'yaml';
import { agentFlags, flagOfEnv, installed, list, read, ROOT, yamlDocuments } from './support.js';

type Doc = Record<string, any>;
const MANIFESTS = list('deploy/kubernetes', '.yaml').filter((f) => !f.endsWith('kustomization.yaml'));
const docs: { file: string; doc: Doc }[] = MANIFESTS.flatMap((file) => yamlDocuments(file).map((doc) => ({ file, doc })));
const ofKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const agentSet = ofKind('StatefulSet').find((s) => s.metadata.name === 'wsring-agent')!;
const agentPod = agentSet.spec.template.spec;
const agentContainer = agentPod.containers[0];
const agentConfigMap = ofKind('ConfigMap').find((c) => c.metadata.name === 'wsring-agent-config')!;
const unit = read('deploy/systemd/wsring-agent@.service');
const dockerfile = read('deploy/docker/Dockerfile');
const DEFAULT_DRAIN_MS = 30_000;

/** `key=value` lines of the systemd unit's [Service] section (repeated keys keep every value). */
function serviceSection(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    const head = /^\[(\w+)\]/.exec(line);
    if (head) section = head[1];
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (section === 'Service' && kv) out.set(kv[1], [...(out.get(kv[1]) ?? []), kv[2]]);
  }
  return out;
}

/**
 * The `--flags` of every wsring-agent command line in a text file: shell lines (comments included, `\`
 * continuations joined) from the `wsring-agent` word (or `.../wsring-agent.js`) on.
 */
function commandLineFlags(text: string): string[] {
  const joined = text.replace(/\\\n\s*#?/g, ' ');
  const flags: string[] = [];
  for (const line of joined.split('\n')) {
    const words = line.replace(/^\s*#/, '').split(/\s+/);
    const at = words.findIndex((w) => /^(wsring-agent(:[\w.-]+)?|\S*\/wsring-agent(\.js)?)$/.test(w)); // the command, a path to it, or the image
    if (at >= 0) flags.push(...words.slice(at + 1).filter((w) => /^--[a-z]/.test(w)).map((w) => w.split('=')[0]));
  }
  return flags;
}

const configFlags = (text: string, file: string) => [...parseConfigFile(file, text, parseYaml).keys()].map((spec) => `--${spec.name}`);
const envNames = (text: string) => [...text.matchAll(/\bWSRING_[A-Z0-9_]+/g)].map((m) => m[0]).filter((n) => n !== 'WSRING_DELIVERY');

describe('deploy/: flags, variables and config keys exist in wsring-agent --help', () => {
  const known = agentFlags();

  it('--help lists the flags the deploy files rely on', () => {
    for (const flag of ['--id', '--url', '--config', '--drain-deadline-ms', '--nats', '--version']) expect(known).toContain(flag);
  });

  it('every manifest parses and names its kind', () => {
    expect(MANIFESTS.length).toBeGreaterThanOrEqual(2);
    for (const { file, doc } of docs) {
      expect({ file, apiVersion: typeof doc.apiVersion, kind: typeof doc.kind, name: typeof doc.metadata?.name }).toEqual({ file, apiVersion: 'string', kind: 'string', name: 'string' });
    }
  });

  it('Kubernetes: container args, env names and the ConfigMap config file', () => {
    const used = new Set<string>();
    for (const { doc } of docs) {
      for (const c of doc.spec?.template?.spec?.containers ?? []) {
        if (!String(c.image).startsWith('wsring-agent')) continue;
        for (const a of [...(c.command ?? []), ...(c.args ?? [])]) if (/^--[a-z]/.test(a)) used.add(a.split('=')[0]);
        for (const e of c.env ?? []) if (e.name.startsWith('WSRING_')) used.add(flagOfEnv(e.name));
      }
    }
    for (const flag of configFlags(agentConfigMap.data['agent.yaml'], 'wsring-agent-config/agent.yaml')) used.add(flag);
    expect([...used].filter((f) => !known.has(f))).toEqual([]);
    expect(used).toContain('--id');
    expect(used).toContain('--url');
  });

  it('systemd, Docker and deploy/README.md: command lines, WSRING_ variables, config examples', () => {
    const texts = {
      unit,
      dockerfile,
      readme: read('deploy/README.md'),
      agentYaml: read('deploy/systemd/agent.yaml'),
      ...Object.fromEntries(list('deploy/systemd', '.example').map((f) => [f, read(f)])),
    };
    const used = new Set<string>();
    for (const text of Object.values(texts)) {
      for (const flag of commandLineFlags(text)) used.add(flag);
      for (const name of envNames(text)) used.add(flagOfEnv(name));
    }
    for (const flag of configFlags(texts.agentYaml, 'deploy/systemd/agent.yaml')) used.add(flag);
    expect([...used].filter((f) => !known.has(f))).toEqual([]);
    for (const flag of ['--id', '--config', '--jwt-secret', '--url', '--port']) expect(used).toContain(flag);
  });
});

describe('deploy/kubernetes: the agent StatefulSet', () => {
  const services = ofKind('Service');

  it('ids from the pod name, URL from the per-pod DNS name of a headless Service that publishes unready pods', () => {
    const args: string[] = agentContainer.args;
    expect(args[args.indexOf('--id') + 1]).toBe('$(POD_NAME)');
    const env = Object.fromEntries(agentContainer.env.map((e: Doc) => [e.name, e]));
    expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    const headless = services.find((s) => s.metadata.name === agentSet.spec.serviceName)!;
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const url = new URL(env.WSRING_URL.value.replace(/\$\((\w+)\)/g, (_: string, v: string) => v.toLowerCase()));
    expect(url.hostname).toBe(`pod_name.${agentSet.spec.serviceName}.pod_namespace.svc.cluster.local`);
    const port = agentContainer.ports.find((p: Doc) => p.name === 'http').containerPort;
    expect(Number(url.port)).toBe(port);
    expect(parseYaml(agentConfigMap.data['agent.yaml']).port).toBe(port);
    expect(agentPod.enableServiceLinks).toBe(false); // no injected WSRING_PORT=tcp://... from a Service named wsring
  });

  it('every Service, the PodDisruptionBudget (maxUnavailable 1) and the StatefulSet select its pods', () => {
    const labels = agentSet.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(agentSet.spec.selector.matchLabels)).toBe(true);
    for (const s of services.filter((s) => s.metadata.name.startsWith('wsring'))) expect({ service: s.metadata.name, selects: selects(s.spec.selector) }).toEqual({ service: s.metadata.name, selects: true });
    const pdb = ofKind('PodDisruptionBudget').find((p) => selects(p.spec.selector.matchLabels))!;
    expect(pdb.spec.maxUnavailable).toBe(1);
    const natsPdb = ofKind('PodDisruptionBudget').find((p) => p.metadata.name === 'nats')!;
    expect(natsPdb.spec.maxUnavailable).toBe(1);
  });

  it('the config file and secrets are mounted where the args and env point', () => {
    const args: string[] = agentContainer.args;
    const configPath = args[args.indexOf('--config') + 1];
    const mount = agentContainer.volumeMounts.find((m: Doc) => configPath.startsWith(`${m.mountPath}/`));
    const volume = agentPod.volumes.find((v: Doc) => v.name === mount.name);
    expect(volume.configMap.name).toBe(agentConfigMap.metadata.name);
    expect(agentConfigMap.data).toHaveProperty(configPath.slice(mount.mountPath.length + 1));
    expect(agentContainer.envFrom.some((e: Doc) => e.secretRef?.name && e.secretRef.optional !== true)).toBe(true);
  });

  it('terminationGracePeriodSeconds outlasts the preStop pause plus the drain deadline plus a margin of 10 s', () => {
    const drainMs = parseYaml(agentConfigMap.data['agent.yaml'])['drain-deadline-ms'] ?? DEFAULT_DRAIN_MS;
    const preStop: string[] = agentContainer.lifecycle?.preStop?.exec?.command ?? [];
    const pause = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(agentPod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + drainMs / 1000 + 10);
  });

  it('NATS: three JetStream servers routed to each other, and nats-server accepts their configuration', () => {
    const nats = ofKind('StatefulSet').find((s) => s.metadata.name === 'nats')!;
    expect(nats.spec.replicas).toBe(3);
    const conf: string = ofKind('ConfigMap').find((c) => c.metadata.name === 'nats-config')!.data['nats.conf'];
    expect(conf).toMatch(/jetstream\s*\{/);
    expect([...conf.matchAll(/nats:\/\/nats-\d\.nats:6222/g)]).toHaveLength(3);
    const agentNats: string[] = parseYaml(agentConfigMap.data['agent.yaml']).nats;
    expect(agentNats.map((u) => new URL(u).hostname)).toEqual(['nats-0.nats', 'nats-1.nats', 'nats-2.nats']);
    const binary = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
    if (!installed(binary)) return;
    const dir = mkdtempSync(join(tmpdir(), 'wsring-nats-conf-'));
    try {
      writeFileSync(join(dir, 'nats.conf'), conf);
      const r = spawnSync(binary, ['-c', join(dir, 'nats.conf'), '-t'], { env: { POD_NAME: 'nats-0' }, encoding: 'utf8' });
      expect(r.status, r.stderr + r.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/kubernetes: the probe paths, against a running agent', () => {
  let agent: Agent | undefined;
  const sockets: WebSocket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await agent?.close();
  });

  it('readiness (/healthz) fails while full and while draining; liveness keeps answering 200', async () => {
    const readiness = agentContainer.readinessProbe.httpGet.path;
    const liveness = agentContainer.livenessProbe.httpGet.path;
    expect(readiness).toBe('/healthz');
    expect(liveness).not.toBe('/healthz');
    agent = await createAgent({ id: 'probe', host: '127.0.0.1', port: 0, membership: new MemoryMembership(), capacity: 1, settleMs: 0 });
    const status = async (path: string) => (await fetch(`http://127.0.0.1:${agent!.port}${path}`)).status;
    expect([await status(readiness), await status(liveness)]).toEqual([200, 200]);

    const ws = new WebSocket(`${agent.url}?user=u1`);
    sockets.push(ws);
    await new Promise((resolve, reject) => (ws.once('message', resolve), ws.once('error', reject)));
    expect(agent.connections).toBe(1);
    expect([await status(readiness), await status(liveness)]).toEqual([503, 200]); // full

    const drained = agent.drain({ deadlineMs: 10_000 }); // nowhere to move u1: lasts until it leaves
    expect(agent.state).toBe('draining');
    expect([await status(readiness), await status(liveness)]).toEqual([503, 200]); // draining
    ws.terminate(); // u1 gone: the drain ends
    expect(await drained).toEqual({ remaining: 0 });
  });
});

describe('deploy/systemd and deploy/docker', () => {
  it('systemd: one node per instance, secrets from an EnvironmentFile, SIGTERM, stop timeout above the drain deadline', () => {
    const service = serviceSection();
    expect(service.get('ExecStart')![0]).toMatch(/wsring-agent\.js .*--id %i\b/);
    expect(service.get('EnvironmentFile')!.length).toBeGreaterThanOrEqual(1);
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    const drainMs = parseYaml(read('deploy/systemd/agent.yaml'))['drain-deadline-ms'] ?? DEFAULT_DRAIN_MS;
    expect(Number(service.get('TimeoutStopSec')![0])).toBeGreaterThanOrEqual(drainMs / 1000 + 10);
    expect(service.get('RestartPreventExitStatus')).toEqual(['2']); // settings errors exit 2
  });

  it('Dockerfile: multi-stage on node slim, production dependencies, not root, ENTRYPOINT wsring-agent, every workspace copied', () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) expect(image).toMatch(/^node:(20|22|24)-slim$/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/npm ci --omit=dev/);
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(/^ENTRYPOINT (.*)$/m.exec(runtime)?.[1]).toBe('["wsring-agent"]');
    // npm ci needs every workspace's package.json: the copy loop must cover each one the root declares.
    const loop = /for ws in ([^;]+);/.exec(dockerfile)![1].split(/\s+/).filter(Boolean);
    const workspaces: string[] = JSON.parse(read('package.json')).workspaces;
    for (const ws of workspaces) expect({ ws, covered: loop.some((g) => g === ws || (g.endsWith('/*') && ws.startsWith(g.slice(0, -1)))) }).toEqual({ ws, covered: true });
  });
});

describe('kubectl', () => {
  const hasKubectl = installed('kubectl');
  const cluster = hasKubectl && spawnSync('kubectl', ['version', '--request-timeout=3s', '-o', 'json'], { encoding: 'utf8' }).stdout.includes('serverVersion');

  it('kubectl kustomize builds deploy/kubernetes (offline)', (ctx) => {
    if (!hasKubectl) ctx.skip('kubectl is not installed: skipped `kubectl kustomize deploy/kubernetes`');
    const r = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy/kubernetes')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const kinds = [...r.stdout.matchAll(/^kind: (\w+)/gm)].map((m) => m[1]).sort();
    expect(kinds).toEqual(docs.map((d) => d.doc.kind).sort());
  });

  it('kubectl apply --dry-run=client --validate=false accepts every manifest', (ctx) => {
    if (!hasKubectl) ctx.skip('kubectl is not installed: skipped `kubectl apply --dry-run=client`');
    // Even a client-side dry run asks an API server for its resource types.
    if (!cluster) ctx.skip('no Kubernetes API server reachable: skipped `kubectl apply --dry-run=client` (it needs discovery)');
    const r = spawnSync('kubectl', ['apply', '--dry-run=client', '--validate=false', ...MANIFESTS.flatMap((f) => ['-f', join(ROOT, f)])], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});
