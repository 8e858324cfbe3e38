import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, lines, terminate, track } from './processes.js';
import { onHost } from './test-host.js';

/** One pino log line of a spawned agent, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; event?: string };

export interface SpawnAgentOptions {
  id: string;
  /** NATS server URL(s). */
  nats: string | string[];
  weight?: number;
  /** Address to listen on (and to reach it at). Default 127.0.0.1. */
  host?: string;
  /** Command prefix to run it on a test host (`TestHost.exec`, e.g. `['ip', 'netns', 'exec', ns]`). Default none. */
  exec?: string[];
  /**
   * Further CLI flags in camelCase, for example `{ settleMs: 200, rate: 50, jwtSecret: 's' }`
   * becomes `--settle-ms 200 --rate 50 --jwt-secret s`. `true` passes a bare flag. Without any of `jwtSecret`,
   * `jwtSecretFile`, `jwksUrl` or `insecure` the agent gets `--insecure` (the CLI refuses to start with no
   * authentication); `insecure: false` leaves it out.
   */
  [flag: string]: string | number | boolean | string[] | undefined;
}

export interface SpawnedAgent {
  readonly id: string;
  /** WebSocket URL of the node. */
  readonly url: string;
  /** `http://<host>:<port>`: /topology, /healthz, /metrics. */
  readonly httpUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Every log line so far. */
  readonly logs: LogLine[];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string | null>;
  /** Send a signal (default SIGKILL); resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (the agent drains, then exits); SIGKILL after `graceMs` (default 30000). */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the first log line (past or future) matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

// From src/testing or dist/testing alike: the built CLI of this package.
const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Run `wsring-agent` in a child process on a free port. Resolves once it logs that it listens (it
 * has registered in membership and holds its first topology). The child is killed if the test
 * process exits first.
 */
export async function spawnAgent(options: SpawnAgentOptions, startTimeoutMs = 20_000): Promise<SpawnedAgent> {
  const { id, nats, host = '127.0.0.1', exec = [], ...flags } = options;
  const args = [cliPath, '--id', id, '--nats', Array.isArray(nats) ? nats.join(',') : nats, '--port', '0', '--host', host];
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined || value === false) continue;
    args.push(`--${kebab(key)}`);
    if (value !== true) args.push(Array.isArray(value) ? value.join(',') : String(value));
  }
  if (!['jwtSecret', 'jwtSecretFile', 'jwksUrl', 'insecure'].some((k) => k in flags)) args.push('--insecure');
  const command = onHost({ name: id, address: host, exec }, process.execPath, args);
  const child: ChildProcess = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const logs: LogLine[] = [];
  const waiters = new Set<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  const stderr: string[] = [];
  lines(child.stdout!, (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const w of waiters) {
      if (w.predicate(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  lines(child.stderr!, (text) => {
    if (stderr.length < 100) stderr.push(text);
  });
  const exit = exited(child);

  const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const past = logs.find(predicate);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`agent ${id}: no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  const listening = await Promise.race([
    waitForLog((l) => l.event === 'listening', startTimeoutMs),
    exit.then((code) => {
      throw new Error(`agent ${id} exited with ${code} before listening:\n${[...logs.map((l) => JSON.stringify(l)), ...stderr].join('\n')}`);
    }),
  ]).catch(async (err: unknown) => {
    await terminate(child, 'SIGKILL', 0);
    throw err;
  });
  const port = Number(listening.port);
  return {
    id,
    url: String(listening.url),
    httpUrl: `http://${host}:${port}`,
    port,
    pid: child.pid!,
    logs,
    exited: exit,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => terminate(child, signal, signal === 'SIGKILL' ? 0 : 30_000),
    stop: (graceMs = 30_000) => terminate(child, 'SIGTERM', graceMs),
    waitForLog,
  };
}
