// One fault test's world: a 3-server NATS cluster whose membership bucket and delivery stream have 3 replicas,
// agents in child processes, and tapped SDK clients. Servers and agents sit on test hosts of their own (network
// namespaces) when the test needs real network faults, else on loopback.
import {
  createReplicatedStores,
  LOOPBACK,
  NatsCluster,
  spawnAgent,
  startDelayRelays,
  TestNetwork,
  type ClusterServer,
  type DelayRelays,
  type NetnsHost,
  type SpawnedAgent,
  type TestHost,
} from '@wsring/node-agent/testing';
import type { Ring } from '@wsring/ring';
import type { Topology } from '@wsring/client';
import { allOpen, FAST_AGENT, fleetKeyFile, health, startClients, topology, users, waitForAgreement, waitUntil, type TrackedClient } from '../integration/support.js';

/** Heartbeat 200 ms, liveness 1 s, settle 300 ms: a JetStream election (4-5 s here) outlasts several liveness periods. */
export const AGENT_FLAGS = FAST_AGENT;
export const LIVENESS_MS = FAST_AGENT.livenessMs;
export const HEARTBEAT_MS = FAST_AGENT.heartbeatMs;
export const SETTLE_MS = FAST_AGENT.settleMs;
export const BUCKET = 'wsring';
export const BUCKET_STREAM = `KV_${BUCKET}`;
export const DELIVERY_STREAM = 'WSRING_DELIVERY';

export interface TestbedOptions {
  /** Servers and agents on test hosts in network namespaces (partitions, netem); else everything on loopback. */
  namespaces: boolean;
  /** Agents reach each server through a relay (in a process of its own) whose added latency the test sets. */
  relays?: boolean;
  /** Before any agent starts, step leaders down until the bucket and the delivery stream have different leaders. */
  distinctLeaders?: boolean;
  agents?: number;
  clients?: number;
}

/** The client holds a delivery position: its first replay is done, so nothing stored from now on can pass it by. */
const synced = (c: TrackedClient) => c.client.position !== undefined;

const trace = (t0: number, what: string) => process.env.WSRING_FAULTS_TRACE && console.log(`[testbed] ${Math.round(performance.now() - t0)} ms: ${what}`);

export class Testbed {
  readonly agents: SpawnedAgent[] = [];
  /** Agent id -> the host it runs on. */
  readonly hostOf = new Map<string, TestHost>();
  relays: DelayRelays | undefined;
  clients: TrackedClient[] = [];
  /** The topology every agent agreed on when the testbed was built. */
  initial!: { topology: Topology; ring: Ring };

  private constructor(
    readonly options: TestbedOptions,
    readonly network: TestNetwork | undefined,
    readonly cluster: NatsCluster,
  ) {}

  static async start(options: TestbedOptions): Promise<Testbed> {
    const t0 = performance.now();
    const agentIds = Array.from({ length: options.agents ?? 4 }, (_, i) => `a${i + 1}`);
    const network = options.namespaces ? await TestNetwork.create(['nats1', 'nats2', 'nats3', ...agentIds]) : undefined;
    let cluster: NatsCluster | undefined;
    try {
      cluster = await NatsCluster.start({ hosts: network ? network.hosts.slice(0, 3) : undefined });
    } catch (err) {
      await network?.destroy();
      throw err;
    }
    trace(t0, 'cluster');
    const bed = new Testbed(options, network, cluster);
    try {
      // Until the agent has a replicas option of its own, the stores it would create with one replica are made
      // here with three (the agent uses existing ones as they are).
      await createReplicatedStores({ servers: cluster.urls, replicas: 3, bucket: BUCKET });
      await cluster.waitForReplicasCurrent(BUCKET_STREAM);
      await cluster.waitForReplicasCurrent(DELIVERY_STREAM);
      if (options.distinctLeaders) await separateLeaders(cluster);
      trace(t0, 'stores');
      const natsUrls = options.relays ? await bed.startRelays() : cluster.urls;
      // The fleet signs its topologies (docs/security.md): an agent cut off from NATS then follows its peers' ring.
      const fleetKey = fleetKeyFile();
      const spawned = await Promise.allSettled(
        agentIds.map((id) => {
          const host = network ? network.host(id) : LOOPBACK;
          bed.hostOf.set(id, host);
          return spawnAgent({ ...AGENT_FLAGS, id, nats: natsUrls, bucket: BUCKET, host: host.address, exec: [...host.exec], topologyKeyFile: fleetKey.keyFile });
        }),
      );
      for (const s of spawned) if (s.status === 'fulfilled') bed.agents.push(s.value);
      const failed = spawned.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      bed.agents.sort((a, b) => a.id.localeCompare(b.id));
      bed.initial = await waitForAgreement(bed.agents, agentIds.length);
      trace(t0, 'agents');
      bed.clients = startClients(users(options.clients ?? 300, 'u'), bed.agents, { backoff: { baseMs: 100, capMs: 2_000 } });
      await allOpen(bed.clients);
      await waitUntil(() => bed.clients.every(synced), 20_000, 'every client synced');
      trace(t0, 'clients');
    } catch (err) {
      await bed.stop();
      throw err;
    }
    return bed;
  }

  agent(id: string): SpawnedAgent {
    const agent = this.agents.find((a) => a.id === id);
    if (!agent) throw new Error(`no agent ${id}`);
    return agent;
  }

  /** The namespace host of a server or agent (`nats-1` or `a1`); only with `namespaces`. */
  nsHost(name: string): NetnsHost {
    if (!this.network) throw new Error('this testbed has no network namespaces');
    return this.network.host(name.startsWith('nats-') ? `nats${name.slice(5)}` : name);
  }

  /**
   * Why this testbed is not as it was built, or undefined when it is: every server running with both stores led
   * and current, every agent serving with its store, all on the ring they started with (any epoch), every client
   * open on its owner. A run that broke something leaves a testbed to be replaced, not reused.
   */
  async baselineProblem(): Promise<string | undefined> {
    const stopped = this.cluster.servers.filter((s) => !s.running);
    if (stopped.length) return `servers not running: ${stopped.map((s) => s.name).join(' ')}`;
    try {
      await this.cluster.waitForReplicasCurrent(BUCKET_STREAM, 5_000);
      await this.cluster.waitForReplicasCurrent(DELIVERY_STREAM, 5_000);
    } catch (err) {
      return (err as Error).message;
    }
    const exited = this.agents.filter((a) => !this.isRunning(a));
    if (exited.length) return `agents exited: ${exited.map((a) => a.id).join(' ')}`;
    try {
      const healths = await Promise.all(this.agents.map((a) => health(a)));
      const unwell = healths.filter((h) => h.body.state !== 'serving' || !h.body.membershipConnected);
      if (unwell.length) return `agents not serving with their store: ${unwell.map((h) => h.body.id).join(' ')}`;
      const served = await Promise.all(this.agents.map((a) => topology(a)));
      const off = served.filter((t) => t.fingerprint !== this.initial.topology.fingerprint || t.epoch !== served[0].epoch);
      if (off.length) return `agents not agreed on the initial ring: ${served.map((t, i) => `${this.agents[i].id} ${t.epoch}:${t.fingerprint}`).join(' ')}`;
    } catch (err) {
      return `agents not answering: ${(err as Error).message}`;
    }
    const astray = this.clients.filter((c) => c.client.state !== 'open' || c.client.node !== this.initial.ring.owner(c.user) || !synced(c));
    if (astray.length) return `${astray.length} clients not open and synced on their owner`;
    return undefined;
  }

  /** The leaders of the bucket and the delivery stream now. */
  async leaders(): Promise<{ bucket: string; stream: string; meta: string | undefined }> {
    const [bucket, stream, meta] = await Promise.all([this.cluster.waitForLeader(BUCKET_STREAM), this.cluster.waitForLeader(DELIVERY_STREAM), this.cluster.metaLeader()]);
    return { bucket: bucket.leader, stream: stream.leader, meta };
  }

  /**
   * Agents with a connection to `server`, from its /connz (by address: only on namespace hosts, where every agent
   * has its own; on loopback undefined).
   */
  async agentsOn(server: ClusterServer): Promise<string[] | undefined> {
    if (!this.network) return undefined;
    try {
      const connz = (await (await fetch(`${server.monitorUrl}/connz`, { signal: AbortSignal.timeout(2_000) })).json()) as { connections?: { ip: string }[] };
      const ips = new Set((connz.connections ?? []).map((c) => c.ip));
      return [...this.hostOf].filter(([, host]) => ips.has(host.address)).map(([id]) => id).sort();
    } catch {
      return undefined;
    }
  }

  /** Added latency on everything the store sends to the agents (through the relays). */
  async setStoreLatency(ms: number): Promise<void> {
    if (!this.relays) throw new Error('this testbed has no relays');
    await this.relays.setDelay(ms);
  }

  /** Close every client, kill every agent and server, remove relays, temp dirs and namespaces. */
  async stop(): Promise<void> {
    const t0 = performance.now();
    for (const c of this.clients) c.client.close();
    await Promise.all(this.agents.map((a) => a.kill('SIGKILL')));
    await this.relays?.close();
    await this.cluster.stop();
    await this.network?.destroy();
    trace(t0, 'stopped');
  }

  private isRunning(agent: SpawnedAgent): boolean {
    try {
      process.kill(agent.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Relays to every server, listening where the test process is (the bridge address, or loopback). */
  private async startRelays(): Promise<string[]> {
    const targets = this.cluster.servers.map((s) => {
      const url = new URL(s.url);
      return { host: url.hostname, port: Number(url.port) };
    });
    this.relays = await startDelayRelays(this.network?.gateway ?? '127.0.0.1', targets);
    return this.relays.urls;
  }
}

/**
 * Step the delivery stream's leader down until it differs from the bucket's, so that a leader can be killed
 * alone and the third server leads neither. Done before agents start: it is setup, not part of any fault.
 */
async function separateLeaders(cluster: NatsCluster): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const bucket = await cluster.waitForLeader(BUCKET_STREAM);
    const stream = await cluster.waitForLeader(DELIVERY_STREAM);
    if (bucket.leader !== stream.leader) {
      await cluster.waitForReplicasCurrent(BUCKET_STREAM);
      await cluster.waitForReplicasCurrent(DELIVERY_STREAM);
      return;
    }
    await cluster.stepDown(DELIVERY_STREAM);
    await cluster.waitForLeader(DELIVERY_STREAM, stream.leader);
  }
  throw new Error('the bucket and the delivery stream kept the same leader through 10 step-downs');
}
