import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lines, terminate, track } from './processes.js';

export interface NatsServerOptions {
  /** Enable JetStream with a fresh temporary store. Default true. */
  jetstream?: boolean;
  /**
   * Be a member of a cluster: its name, this member's route port, and the route URLs of every member
   * (JetStream clustering needs them all at start). `startNatsCluster` fills this in.
   */
  cluster?: { name: string; port: number; routes: string[] };
  /** Path of the nats-server binary. Default `/usr/sbin/nats-server` (or $NATS_SERVER). */
  binary?: string;
  /** How long to wait for the server to be ready. Default 15000 ms. */
  readyTimeoutMs?: number;
  /** Extra command-line arguments. */
  args?: string[];
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Route URL for other cluster members, when started with `cluster`. */
  readonly clusterUrl: string | undefined;
  readonly pid: number | undefined;
  /** Graceful stop; removes the store. */
  stop(): Promise<void>;
  /** SIGKILL; keeps the store (for restart). */
  kill(): Promise<void>;
  /** Stop (if running) and start again on the same port with the same store. */
  restart(): Promise<void>;
}

let serial = 0;

/**
 * Start a nats-server of our own: loopback only, a free port chosen by the server, a temporary
 * JetStream directory. Resolves once it reports itself ready.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
  const storeDir = mkdtempSync(join(tmpdir(), 'wsring-nats-'));
  const name = `wsring-test-${process.pid}-${++serial}`;
  let port = -1;
  const clusterPort = options.cluster?.port ?? -1;
  let child: ChildProcess | undefined;

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const args = ['-a', '127.0.0.1', '-p', String(port), '--server_name', name];
      if (options.jetstream ?? true) args.push('-js', '-sd', storeDir);
      if (options.cluster) {
        args.push('--cluster_name', options.cluster.name, '--cluster', `nats://127.0.0.1:${clusterPort}`);
        const routes = options.cluster.routes.filter((r) => !r.endsWith(`:${clusterPort}`));
        if (routes.length) args.push('--routes', routes.join(','));
      }
      args.push(...(options.args ?? []));
      const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      track(proc);
      child = proc;
      const output: string[] = [];
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`nats-server not ready within ${options.readyTimeoutMs ?? 15_000} ms:\n${output.join('\n')}`));
      }, options.readyTimeoutMs ?? 15_000);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${output.join('\n')}`));
      });
      lines(proc.stderr!, (line) => {
        if (output.length < 200) output.push(line);
        const client = /Listening for client connections on [^\s]*:(\d+)/.exec(line);
        if (client) port = Number(client[1]);
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  await launch();
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get clusterUrl() {
      return options.cluster ? `nats://127.0.0.1:${clusterPort}` : undefined;
    },
    get pid() {
      return child?.pid;
    },
    async stop() {
      if (child && running()) await terminate(child, 'SIGTERM', 5_000);
      rmSync(storeDir, { recursive: true, force: true });
    },
    async kill() {
      if (child && running()) await terminate(child, 'SIGKILL', 0);
    },
    async restart() {
      if (child && running()) await terminate(child, 'SIGTERM', 5_000);
      await launch();
    },
  };
}

/** A free TCP port on 127.0.0.1 (for route ports, which must be known before any member starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once JetStream answers API requests through `url` (a cluster needs a meta leader first). */
export async function waitForJetStream(url: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const nc = await connect({ servers: url });
  try {
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1_000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > end) throw new Error(`JetStream not ready at ${url} within ${timeoutMs} ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

/**
 * Start `size` nats-servers forming one JetStream cluster. Resolves once every member is ready and
 * JetStream answers through each of them; give clients all their URLs.
 */
export async function startNatsCluster(size = 3, options: Omit<NatsServerOptions, 'cluster'> = {}): Promise<NatsServer[]> {
  const name = `wsring-cluster-${process.pid}-${++serial}`;
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = ports.map((p) => `nats://127.0.0.1:${p}`);
  const servers = await Promise.allSettled(ports.map((port) => startNatsServer({ ...options, cluster: { name, port, routes } })));
  const failed = servers.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  const members = servers.map((s) => (s as PromiseFulfilledResult<NatsServer>).value);
  try {
    for (const m of members) await waitForJetStream(m.url);
  } catch (err) {
    await Promise.all(members.map((m) => m.stop()));
    throw err;
  }
  return members;
}
