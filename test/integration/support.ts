// Shared harness for the integration suites: a real nats-server, real agents in child processes, and
// @wsring/client instances whose sockets are tapped so tests can see every frame and every socket.
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRing, type Ring } from '@wsring/ring';
import { createClient, type ClientEvents, type ClientOptions, type ServerFrame, type Topology, type WebSocketConstructor, type WsringClient } from '@wsring/client';
import { NatsMembership, generateTopologyKeyPair } from '@wsring/node-agent';
import { spawnAgent, startNatsServer, type NatsServer, type SpawnAgentOptions, type SpawnedAgent } from '@wsring/node-agent/testing';
import { WebSocket } from 'ws';
import { afterAll, beforeAll } from 'vitest';
import { Heartbeats } from '../support/heartbeats.js';

/** Agent flags that keep membership changes quick: heartbeat 200 ms, gone after 1 s, settle 300 ms. */
export const FAST_AGENT = { heartbeatMs: 200, livenessMs: 1_000, settleMs: 300, jitterMs: 20, graceMs: 5_000, echo: true } as const;

export interface Cluster {
  nats: NatsServer;
  agents: SpawnedAgent[];
  /** Start one more agent on the same NATS. */
  add(id: string, flags?: Partial<SpawnAgentOptions>): Promise<SpawnedAgent>;
  /** Kill every agent still running and stop NATS. */
  stop(): Promise<void>;
}

export async function startCluster(ids: string[], flags: Partial<SpawnAgentOptions> = {}): Promise<Cluster> {
  const nats = await startNatsServer();
  const agents: SpawnedAgent[] = [];
  const add = async (id: string, extra: Partial<SpawnAgentOptions> = {}) => {
    const agent = await spawnAgent({ ...FAST_AGENT, ...flags, ...extra, id, nats: nats.url });
    agents.push(agent);
    return agent;
  };
  const cluster: Cluster = {
    nats,
    agents,
    add,
    async stop() {
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      await nats.stop();
    },
  };
  try {
    await Promise.all(ids.map((id) => add(id)));
    // They started in parallel and were pushed as each came up: keep the order the caller gave (tests index them).
    agents.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
    await waitForAgreement(agents, ids.length);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

export interface SuiteCluster {
  /** The running cluster; started before the suite's first test. */
  readonly cluster: Cluster;
  /** startClients(), with every client closed after the suite. */
  startClients(...args: Parameters<typeof startClients>): TrackedClient[];
}

/**
 * Starts a cluster before the enclosing suite's tests and, after them, closes every client they started
 * through it and stops the cluster. Call inside `describe`.
 */
export function clusterForSuite(ids: string[], flags: Partial<SpawnAgentOptions> = {}): SuiteCluster {
  let cluster: Cluster | undefined;
  const clients: TrackedClient[] = [];
  beforeAll(async () => {
    cluster = await startCluster(ids, flags);
  });
  afterAll(async () => {
    for (const c of clients) c.client.close();
    await cluster?.stop();
  });
  return {
    get cluster() {
      if (!cluster) throw new Error('the cluster is started in beforeAll; read it inside a test');
      return cluster;
    },
    startClients(...args) {
      const started = startClients(...args);
      clients.push(...started);
      return started;
    },
  };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

export interface Health {
  id: string;
  state: string;
  /** Sessions (sockets). */
  connections: number;
  /** Users with at least one session. */
  users: number;
  capacity: number;
  epoch: number;
  membershipConnected: boolean;
}

export const health = (agent: SpawnedAgent) => getJson<Health>(`${agent.httpUrl}/healthz`);
export const topology = async (agent: SpawnedAgent) => (await getJson<Topology>(`${agent.httpUrl}/topology`)).body;

/** Wait until every agent serves a topology with `nodes` ring nodes and they all agree on its fingerprint. */
export async function waitForAgreement(agents: SpawnedAgent[], nodes: number, timeoutMs = 20_000): Promise<{ topology: Topology; ring: Ring }> {
  let last: Topology[] = [];
  await waitUntil(
    async () => {
      last = await Promise.all(agents.map(topology));
      return last.every((t) => t.ring.nodes.length === nodes && t.fingerprint === last[0].fingerprint);
    },
    timeoutMs,
    () => `agents to agree on ${nodes} nodes (have ${last.map((t) => `${t.ring.nodes.length}@${t.epoch}`).join(', ')})`,
  );
  return { topology: last[0], ring: await loadRing(last[0].ring) };
}

/** Poll `condition` every 50 ms until it holds; fail with `what` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Keep something going for `ms` of real time: a store outage, a publisher's pace. An action that lasts that
 * long, never a pause before an assertion (those wait for the event or counter they are about).
 */
export const hold = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Count the agents' heartbeats in the membership bucket (see test/support/heartbeats.ts): windows in which
 * nothing may happen are measured in them.
 */
export async function watchHeartbeats(nats: string, bucket?: string): Promise<Heartbeats> {
  return Heartbeats.watch(await NatsMembership.connect({ servers: nats, bucket }));
}

/** The `rebalance` events a spawned agent has logged (one per applied ring). */
export const rebalanceLogs = (agent: SpawnedAgent) => agent.logs.filter((l) => l.event === 'rebalance') as unknown as { epoch: number; fingerprint: string; moved: number }[];

// ---- tapped clients ----

export interface SocketRecord {
  url: string;
  /** Agent id of the node the socket went to. */
  node: string;
  frames: { frame: ServerFrame; at: number }[];
  welcomed: boolean;
  closeCode?: number;
}

export interface TrackedClient {
  user: string;
  client: WsringClient;
  sockets: SocketRecord[];
  events: { [K in keyof ClientEvents]?: ClientEvents[K][] };
}

const endpoint = (url: string) => {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
};

/** A `ws` WebSocket that records every socket opened and every frame received, into `sink`. */
function tappedWebSocket(sink: SocketRecord[], nodeOf: (url: string) => string): WebSocketConstructor {
  return class TappedWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      const record: SocketRecord = { url, node: nodeOf(url), frames: [], welcomed: false };
      sink.push(record);
      this.addEventListener('message', (event) => {
        try {
          const frame = JSON.parse(String(event.data)) as ServerFrame;
          record.frames.push({ frame, at: performance.now() });
          if (frame.type === 'welcome') record.welcomed = true;
        } catch {
          // Not JSON: the client reports it; nothing to record.
        }
      });
      this.addEventListener('close', (event) => (record.closeCode = event.code));
    }
  } as unknown as WebSocketConstructor;
}

/** Maps WebSocket URLs back to agent ids (for agents started later too). */
export function nodeIndex(agents: SpawnedAgent[]): (url: string) => string {
  return (url) => agents.find((a) => endpoint(a.url) === endpoint(url))?.id ?? `unknown(${endpoint(url)})`;
}

export function startClients(users: string[], agents: SpawnedAgent[], options: Partial<ClientOptions> = {}): TrackedClient[] {
  const nodeOf = nodeIndex(agents);
  return users.map((user) => {
    const sockets: SocketRecord[] = [];
    const client = createClient({ user, bootstrap: agents.map((a) => a.httpUrl), WebSocket: tappedWebSocket(sockets, nodeOf), ...options });
    const tracked: TrackedClient = { user, client, sockets, events: {} };
    for (const name of ['open', 'moved', 'reconnecting', 'close', 'error'] as const) {
      const list: unknown[] = [];
      (tracked.events as Record<string, unknown[]>)[name] = list;
      client.on(name, (payload: unknown) => void list.push(payload));
    }
    return tracked;
  });
}

export const reconnectFrames = (c: TrackedClient) => c.sockets.flatMap((s) => s.frames.filter((f) => f.frame.type === 'reconnect'));
export const welcomes = (c: TrackedClient) => c.sockets.filter((s) => s.welcomed).length;
export const users = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

export async function allOpen(clients: TrackedClient[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(() => clients.every((c) => c.client.state === 'open'), timeoutMs, () => `all clients open (${clients.filter((c) => c.client.state !== 'open').length} not)`);
}

/** Largest number of events in any window of `windowMs`, over sorted timestamps. */
export function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** An HS256 JWT, signed by hand so the suite needs no JWT library of its own. */
export function hs256(payload: Record<string, unknown>, secret: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/**
 * A fresh fleet signing key: `keyFile` (a PKCS#8 PEM in a temp dir, for the agents' `--topology-key-file`) and
 * `publicKey` (for the clients' `topologyKey`).
 */
export function fleetKeyFile(): { keyFile: string; publicKey: string } {
  const { privateKeyPem, publicKey } = generateTopologyKeyPair();
  const keyFile = join(mkdtempSync(join(tmpdir(), 'wsring-fleet-key-')), 'topology.pem');
  writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
  return { keyFile, publicKey };
}
