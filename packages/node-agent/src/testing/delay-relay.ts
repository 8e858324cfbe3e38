// A TCP relay that delivers what the server sends late, by an amount that can change while connections are open.
// It stands in for tc netem where the kernel has no sch_netem: put it between clients and a server, and the
// clients see the server answer `delayMs` later, as if the server's link had that much latency.
import { fork } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { terminate, track } from './processes.js';

export interface DelayRelay {
  /** Where clients connect. */
  readonly host: string;
  readonly port: number;
  /** Added to everything the server sends from now on; order is kept (nothing overtakes earlier bytes). */
  delayMs: number;
  /** Stop listening and drop every relayed connection. */
  close(): Promise<void>;
}

/**
 * Writes chunks to `to` at least `delay()` ms after they arrived, in arrival order; `null` ends `to` the same
 * way (what was sent before a server went away still arrives, late).
 */
function delayedWriter(to: Socket, delay: () => number): (chunk: Buffer | null) => void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].at <= now) {
      const { chunk } = queue.shift()!;
      if (chunk) to.write(chunk);
      else to.destroy();
    }
    if (queue.length) timer = setTimeout(flush, queue[0].at - now);
  };
  return (chunk) => {
    if (queue.length === 0 && delay() === 0) {
      if (chunk) to.write(chunk);
      else to.destroy();
      return;
    }
    // Never earlier than the chunk before it, even when the delay has just been lowered.
    last = Math.max(performance.now() + delay(), last);
    queue.push({ at: last, chunk });
    if (!timer) timer = setTimeout(flush, Math.max(0, last - performance.now()));
  };
}

/** Relay `listen` -> `target`, with an added delay on the way back (0 until set). */
export async function startDelayRelay(options: { listen: { host: string; port?: number }; target: { host: string; port: number } }): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  let delayMs = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(options.target.port, options.target.host);
    sockets.add(client).add(upstream);
    const toClient = delayedWriter(client, () => delayMs);
    upstream.on('data', toClient);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('error', () => {});
    upstream.on('close', () => {
      sockets.delete(upstream);
      toClient(null);
    });
    client.on('error', () => {});
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port ?? 0, options.listen.host, () => resolve());
  });
  return {
    host: options.listen.host,
    port: (server.address() as { port: number }).port,
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface DelayRelays {
  /** `nats://<host>:<port>` of each relay, in the order of the targets. */
  readonly urls: string[];
  /** Set the added latency of every relay; resolves once the relay process applies it. */
  setDelay(ms: number): Promise<void>;
  /** Stop the relay process (every relayed connection drops). */
  close(): Promise<void>;
}

// From src/testing or dist/testing alike: the built child script.
const relayProcessPath = fileURLToPath(new URL('../../dist/testing/delay-relay-process.js', import.meta.url));

/**
 * Relays to each of `targets` (host:port), listening on `listenHost`, in a child process of their own; `setDelay`
 * sets the latency they add to what the targets send back.
 */
export async function startDelayRelays(listenHost: string, targets: readonly { host: string; port: number }[]): Promise<DelayRelays> {
  const child = fork(relayProcessPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  const reply = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: { type: string; message?: string } & T) => {
        if (m.type !== type && m.type !== 'error') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (m.type === 'error') reject(new Error(`delay relay: ${m.message}`));
        else resolve(m);
      };
      const onExit = (code: number | null) => reject(new Error(`delay relay process exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const started = reply<{ ports: number[] }>('started');
  child.send({ type: 'start', relays: targets.map((target) => ({ listen: { host: listenHost }, target })) });
  const { ports } = await started.catch(async (err: unknown) => {
    await terminate(child, 'SIGKILL', 0);
    throw err;
  });
  return {
    urls: ports.map((port) => `nats://${listenHost}:${port}`),
    async setDelay(ms: number) {
      const applied = reply('delayed');
      child.send({ type: 'delay', ms });
      await applied;
    },
    close: () => terminate(child, 'SIGKILL', 0),
  };
}
