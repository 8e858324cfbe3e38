// A JetStream cluster of nats-servers started from config files, one per test host, that a test can SIGKILL and
// restart server by server, and ask who leads what: the meta leader and the leader of any stream (a KV bucket
// is the stream KV_<bucket>).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, waitForJetStream } from './nats-server.js';
import { lines, terminate, track } from './processes.js';
import { LOOPBACK, onHost, type TestHost } from './test-host.js';

export interface NatsClusterOptions {
  /** One host per server; their number is the cluster's size. Default: three servers on loopback. */
  hosts?: readonly TestHost[];
  /** Path of the nats-server binary. Default `/usr/sbin/nats-server` (or $NATS_SERVER). */
  binary?: string;
  /** How long one server may take to report itself ready, and JetStream to answer after. Default 30000 ms. */
  readyTimeoutMs?: number;
}

export interface ClusterServer {
  /** Its `server_name`, which is how JetStream names leaders and replicas: `nats-1`, `nats-2`, ... */
  readonly name: string;
  readonly host: TestHost;
  /** Client URL, `nats://<address>:<port>`. */
  readonly url: string;
  /** Monitoring endpoint (`/jsz`, `/connz`, ...), `http://<address>:<port>`. */
  readonly monitorUrl: string;
  readonly configFile: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Its last 200 log lines. */
  readonly log: readonly string[];
  /** SIGKILL; the store stays for `start()`. */
  kill(): Promise<void>;
  /** Start (again) with the same config and store; resolves once the server reports itself ready. */
  start(): Promise<void>;
}

export interface LeaderChange {
  leader: string;
  /** From the call until a leader other than `previous` was reported. */
  ms: number;
}

/** Writes a member's config: its name, listen, monitoring, own store directory and routes to every other member. */
function writeConfig(file: string, s: { name: string; cluster: string; address: string; port: number; routePort: number; monitorPort: number; storeDir: string; routes: string[] }): void {
  writeFileSync(
    file,
    `server_name: "${s.name}"
listen: "${s.address}:${s.port}"
http: "${s.address}:${s.monitorPort}"
jetstream {
  store_dir: "${s.storeDir}"
}
cluster {
  name: "${s.cluster}"
  listen: "${s.address}:${s.routePort}"
  # Clients keep to the URLs they were given (a relay, a test host) instead of learning the others'.
  no_advertise: true
  routes: [
${s.routes.map((r) => `    "${r}"`).join('\n')}
  ]
}
`,
  );
}

/** The part of `/jsz`'s `meta_cluster` the harness reads. */
interface MetaGroup {
  leader?: string;
  replicas?: { name: string; current: boolean }[];
}

let serial = 0;

/** A server process that can be killed and started again from its config file. */
class ServerProcess implements ClusterServer {
  private child: ChildProcess | undefined;
  readonly log: string[] = [];

  constructor(
    readonly name: string,
    readonly host: TestHost,
    readonly url: string,
    readonly monitorUrl: string,
    readonly configFile: string,
    private readonly binary: string,
    private readonly readyTimeoutMs: number,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async kill(): Promise<void> {
    if (this.child && this.running) await terminate(this.child, 'SIGKILL', 0);
  }

  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    const { file, args } = onHost(this.host, this.binary, ['-c', this.configFile]);
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} ${why}:\n${this.log.slice(-30).join('\n')}`));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`not ready within ${this.readyTimeoutMs} ms`);
      }, this.readyTimeoutMs);
      child.once('error', (err) => fail(`did not start: ${err.message}`));
      child.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`));
      lines(child.stderr!, (line) => {
        this.log.push(line);
        if (this.log.length > 200) this.log.shift();
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
}

/**
 * Three (or `hosts.length`) nats-servers in one JetStream cluster, each from a config file in a temporary
 * directory with its own store. Servers on a host of their own listen on the standard ports of its address
 * (4222 clients, 6222 routes, 8222 monitoring); servers sharing loopback get free ports.
 */
export class NatsCluster {
  private readonly connections = new Map<string, Promise<NatsConnection>>();

  private constructor(
    readonly servers: readonly ClusterServer[],
    private readonly dir: string,
    private readonly readyTimeoutMs: number,
  ) {}

  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const hosts = options.hosts ?? [LOOPBACK, LOOPBACK, LOOPBACK];
    const binary = options.binary ?? process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
    const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    const dir = mkdtempSync(join(tmpdir(), 'wsring-nats-cluster-'));
    const cluster = `wsring-${process.pid}-${++serial}`;
    const ports = await Promise.all(
      hosts.map(async (host) =>
        host.exec.length > 0 ? { port: 4222, routePort: 6222, monitorPort: 8222 } : { port: await freePort(), routePort: await freePort(), monitorPort: await freePort() },
      ),
    );
    const servers = hosts.map((host, i) => {
      const name = `nats-${i + 1}`;
      const storeDir = join(dir, name);
      mkdirSync(storeDir);
      const configFile = join(dir, `${name}.conf`);
      const routes = hosts.flatMap((h, j) => (j === i ? [] : [`nats://${h.address}:${ports[j].routePort}`]));
      writeConfig(configFile, { name, cluster, address: host.address, ...ports[i], storeDir, routes });
      return new ServerProcess(name, host, `nats://${host.address}:${ports[i].port}`, `http://${host.address}:${ports[i].monitorPort}`, configFile, binary, readyTimeoutMs);
    });
    const started = new NatsCluster(servers, dir, readyTimeoutMs);
    try {
      await Promise.all(servers.map((s) => s.start()));
      await started.waitForJetStream();
    } catch (err) {
      await started.stop();
      throw err;
    }
    return started;
  }

  /** Every server's client URL, for clients that should reach any of them. */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  server(name: string): ClusterServer {
    const server = this.servers.find((s) => s.name === name);
    if (!server) throw new Error(`no server ${name} in the cluster (have ${this.servers.map((s) => s.name).join(', ')})`);
    return server;
  }

  /**
   * Resolves once JetStream answers an API request through every running server and the meta leader counts every
   * server as a current peer (before that, a stream with as many replicas as servers finds no placement).
   */
  async waitForJetStream(timeoutMs = this.readyTimeoutMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    await Promise.all(this.servers.filter((s) => s.running).map((s) => waitForJetStream(s.url, timeoutMs)));
    for (;;) {
      const meta = await this.metaGroup();
      if (meta?.leader && meta.replicas?.length === this.servers.length - 1 && meta.replicas.every((r) => r.current)) return;
      if (performance.now() > deadline) throw new Error(`JetStream meta group incomplete after ${timeoutMs} ms: ${JSON.stringify(meta)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The server that leads the JetStream meta group (stream and consumer placement), from a monitoring endpoint. */
  async metaLeader(): Promise<string | undefined> {
    return (await this.metaGroup())?.leader;
  }

  /** `/jsz` meta_cluster as the meta leader sees it (its peers' state is the leader's to know), else as any server does. */
  private async metaGroup(): Promise<MetaGroup | undefined> {
    const views = await Promise.all(
      this.servers
        .filter((x) => x.running)
        .map(async (s) => {
          try {
            const jsz = (await (await fetch(`${s.monitorUrl}/jsz`, { signal: AbortSignal.timeout(2_000) })).json()) as { meta_cluster?: MetaGroup };
            return { server: s.name, meta: jsz.meta_cluster };
          } catch {
            return undefined; // away or cut off: the others answer
          }
        }),
    );
    const known = views.filter((v) => v?.meta?.leader);
    return (known.find((v) => v!.meta!.leader === v!.server) ?? known[0])?.meta;
  }

  /**
   * `$JS.API.STREAM.INFO.<stream>`, asked through every running server at once. A server cut off from the
   * others cannot answer (or answers from before the cut), so the answer naming the leader most servers name wins.
   */
  async streamInfo(stream: string): Promise<StreamInfo> {
    const answers = await Promise.allSettled(this.servers.filter((s) => s.running).map(async (s) => (await this.jsm(s)).streams.info(stream)));
    const infos = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    if (infos.length === 0) throw (answers.find((a) => a.status === 'rejected') as PromiseRejectedResult | undefined)?.reason ?? new Error('no server is running');
    const votes = (i: StreamInfo) => infos.filter((x) => x.cluster?.leader === i.cluster?.leader).length;
    return infos.reduce((best, i) => (votes(i) > votes(best) ? i : best));
  }

  /** The server leading `stream` now, or undefined while it has none (an election) or JetStream does not answer. */
  async streamLeader(stream: string): Promise<string | undefined> {
    try {
      return (await this.streamInfo(stream)).cluster?.leader || undefined;
    } catch {
      return undefined;
    }
  }

  /** The server leading KV bucket `bucket`. */
  bucketLeader(bucket: string): Promise<string | undefined> {
    return this.streamLeader(`KV_${bucket}`);
  }

  /** Polls (every 50 ms) until `stream` has a leader other than `previous`; how long that took from the call. */
  async waitForLeader(stream: string, previous?: string, timeoutMs = 30_000): Promise<LeaderChange> {
    const started = performance.now();
    for (;;) {
      const leader = await this.streamLeader(stream);
      if (leader && leader !== previous) return { leader, ms: Math.round(performance.now() - started) };
      if (performance.now() - started > timeoutMs) throw new Error(`${stream}: no leader other than ${previous ?? '(none)'} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Polls until every replica of `stream` is current and online (after a restart or a heal: it has caught up). */
  async waitForReplicasCurrent(stream: string, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      try {
        const { cluster } = await this.streamInfo(stream);
        const replicas = cluster?.replicas ?? [];
        last = JSON.stringify(cluster);
        if (cluster?.leader && replicas.length + 1 === this.servers.length && replicas.every((r) => r.current && !r.offline)) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (performance.now() > deadline) throw new Error(`${stream}: replicas not all current within ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ask the leader of `stream` to step down; another replica takes over after an election. */
  async stepDown(stream: string): Promise<void> {
    const server = this.servers.find((s) => s.running);
    if (!server) throw new Error('no server is running');
    await (await this.connection(server)).request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 });
  }

  /** SIGKILL every server, close the harness's own connections and remove the configs and stores. */
  async stop(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((c) => c.then((nc) => nc.close()).catch(() => {})));
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The harness's own connection to one server (to that one only: it asks the servers one by one). */
  private connection(server: ClusterServer): Promise<NatsConnection> {
    let nc = this.connections.get(server.name);
    if (!nc) {
      nc = connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, timeout: 2_000, ignoreClusterUpdates: true });
      // Not reachable now: ask again next time instead of keeping the failure.
      nc.catch(() => this.connections.delete(server.name));
      this.connections.set(server.name, nc);
    }
    return nc;
  }

  private async jsm(server: ClusterServer): Promise<JetStreamManager> {
    return jetstreamManager(await this.connection(server), { timeout: 1_500, checkAPI: false });
  }
}
