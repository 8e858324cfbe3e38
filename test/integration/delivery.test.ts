// Exact delivery through moves, drains, crashes and a NATS restart, against real parts: a nats-server, agents in
// child processes, 1,000 @wsring/client instances spread over child processes, and a publisher sending every
// user a numbered message every 50 ms. Each client's application must see 0, 1, 2, ... exactly once each, up
// to the last number the publisher had confirmed stored; nothing passes by not sending.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient, type GapEvent } from '@wsring/client';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createPublisher, DELIVERY_DEFAULTS, type Publisher } from '@wsring/node-agent';
import type { SpawnedAgent } from '@wsring/node-agent/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { hold, startCluster, users, waitForAgreement, waitUntil, type Cluster } from './support.js';

const CLIENTS = 1_000;
const PER_PROCESS = 500;
const INTERVAL_MS = 50;

interface UserReport {
  next: number;
  errors: string[];
  gaps: GapEvent[];
  opens: number;
  state: string;
  node: string | null;
}

/** Clients in child processes (so 1,000 sockets and their checks do not share the test's event loop). */
class ClientProcesses {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(list: string[], bootstrap: string[]): Promise<ClientProcesses> {
    const script = fileURLToPath(new URL('./delivery-clients.mjs', import.meta.url));
    const children: ChildProcess[] = [];
    for (let i = 0; i < list.length; i += PER_PROCESS) {
      const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const started = new Promise<void>((resolve) => child.once('message', () => resolve()));
      child.send({ type: 'start', users: list.slice(i, i + PER_PROCESS), bootstrap, options: { backoff: { baseMs: 100, capMs: 2_000 } } });
      await started;
    }
    return new ClientProcesses(children);
  }

  async report(): Promise<Map<string, UserReport>> {
    const parts = await Promise.all(
      this.children.map(
        (child) =>
          new Promise<Record<string, UserReport>>((resolve) => {
            const onMessage = (m: { type: string; users: Record<string, UserReport> }) => {
              if (m.type !== 'report') return;
              child.off('message', onMessage);
              resolve(m.users);
            };
            child.on('message', onMessage);
            child.send({ type: 'report' });
          }),
      ),
    );
    return new Map(parts.flatMap((p) => Object.entries(p)));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.send({ type: 'close' });
          }),
      ),
    );
  }
}

/** One loop per user: publish {n}, n = 0, 1, 2, ... every INTERVAL_MS; retry the same n (same id) while NATS is away. */
class NumberedPublisher {
  readonly sent = new Map<string, number>();
  unavailable = 0;
  readonly failures: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly publisher: Publisher, private readonly list: string[]) {}

  get total(): number {
    let sum = 0;
    for (const n of this.sent.values()) sum += n;
    return sum;
  }

  start(): void {
    this.running = true;
    this.loops = this.list.map((user) => this.loop(user));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /**
   * One phase of steady publishing: resolves once every user has been sent `messages` more. Counted, not timed,
   * so a phase carries as much traffic on a slow machine as on a fast one.
   */
  async phase(messages: number): Promise<void> {
    const from = new Map(this.sent);
    let short = 0;
    await waitUntil(
      () => (short = this.list.filter((u) => (this.sent.get(u) ?? 0) < (from.get(u) ?? 0) + messages).length) === 0,
      120_000,
      () => `${messages} more messages to every user (${short} short)`,
    );
  }

  private async loop(user: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const started = performance.now();
      for (;;) {
        try {
          await this.publisher.publish(user, { n }, { id: `${user}:${n}` });
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'STORE_UNAVAILABLE') {
            this.failures.push(`${user} #${n}: ${String(err)}`);
            return;
          }
          this.unavailable++;
          // Retry pace while NATS is away.
          await hold(100);
        }
      }
      this.sent.set(user, n + 1);
      // The publishing pace: one message per user every INTERVAL_MS.
      await hold(Math.max(0, INTERVAL_MS - (performance.now() - started)));
    }
  }
}

const alive = (cluster: Cluster, gone: Set<SpawnedAgent>) => cluster.agents.filter((a) => !gone.has(a));

async function allOpen(clients: ClientProcesses, timeoutMs = 60_000): Promise<void> {
  let open = 0;
  await waitUntil(
    async () => {
      const r = await clients.report();
      open = [...r.values()].filter((u) => u.state === 'open').length;
      return open === r.size;
    },
    timeoutMs,
    () => `every client open (${open} are)`,
  );
}

/**
 * A join, a drain, a SIGKILL and a NATS restart under a steady publish, each followed by a phase of steady
 * publishing in which every user is sent `phaseMessages` more; then every count must match.
 */
async function runScenario(flags: Record<string, number>, phaseMessages: number): Promise<{ sent: number; unavailable: number; seconds: number; reconnected: number }> {
  const cluster = await startCluster(['n1', 'n2', 'n3'], flags);
  let clients: ClientProcesses | undefined;
  let publisher: Publisher | undefined;
  const gone = new Set<SpawnedAgent>();
  try {
    const list = users(CLIENTS, 'd');
    clients = await ClientProcesses.start(list, cluster.agents.map((a) => a.httpUrl));
    await allOpen(clients);
    publisher = await createPublisher({ nats: { servers: cluster.nats.url }, publishTimeoutMs: 2_000 });
    const numbered = new NumberedPublisher(publisher, list);
    const started = performance.now();
    const phase = () => numbered.phase(phaseMessages);
    numbered.start();
    await phase();

    // 1. A fourth agent joins: about a quarter of the users move.
    await cluster.add('n4', flags);
    await waitForAgreement(alive(cluster, gone), 4);
    await allOpen(clients);
    await phase();

    // 2. An agent drains (SIGTERM: paced reconnects for all its users, then exit).
    const drained = cluster.agents[0];
    await drained.stop(30_000);
    gone.add(drained);
    await waitForAgreement(alive(cluster, gone), 3);
    await allOpen(clients);
    await phase();

    // 3. An agent is killed: its clients fail over, then membership drops it.
    const killed = cluster.agents[1];
    await killed.kill('SIGKILL');
    gone.add(killed);
    await waitForAgreement(alive(cluster, gone), 2, 30_000);
    await allOpen(clients);
    await phase();

    // 4. The NATS server restarts (same store): publishing pauses, clients stay, delivery catches up.
    const beforeRestart = numbered.total;
    await cluster.nats.restart();
    await waitUntil(() => numbered.total > beforeRestart + CLIENTS, 30_000, 'publishing to resume after the NATS restart');
    await phase();

    await numbered.stop();
    const seconds = (performance.now() - started) / 1000;
    expect(numbered.failures).toEqual([]);
    let behind = 0;
    await waitUntil(
      async () => {
        const r = await clients!.report();
        behind = list.filter((u) => r.get(u)!.next < numbered.sent.get(u)!).length;
        return behind === 0;
      },
      60_000,
      () => `every client to have every number (${behind} behind)`,
    );
    const report = await clients.report();
    // The phases did move people: a join, a drain and a crash each reconnect a good share of the users.
    const reconnected = list.filter((u) => report.get(u)!.opens > 1).length;
    expect(reconnected).toBeGreaterThan(CLIENTS / 3);
    for (const user of list) {
      const r = report.get(user)!;
      const sent = numbered.sent.get(user)!;
      // Something was sent to everyone (five phases of a few messages each, and more during the changes).
      expect(sent).toBeGreaterThan(20);
      expect({ user, next: r.next, errors: r.errors, gaps: r.gaps }).toEqual({ user, next: sent, errors: [], gaps: [] });
    }
    return { sent: numbered.total, unavailable: numbered.unavailable, seconds, reconnected };
  } finally {
    await publisher?.close();
    await clients?.stop();
    await cluster.stop();
  }
}

describe('exact delivery across nodes, against real agents and NATS', () => {
  it('every client receives every number exactly once and in order through a join, a drain, a crash and a NATS restart', async () => {
    const result = await runScenario({}, 4);
    console.log(`delivery (paced): ${result.sent} messages to ${CLIENTS} clients in ${result.seconds.toFixed(1)} s (${Math.round(result.sent / result.seconds)}/s), ${result.unavailable} publishes retried while NATS was away, ${result.reconnected} clients reconnected at least once`);
  }, 240_000);

  it('with pacing turned down to the minimum the same run still ends with no gap', async () => {
    const result = await runScenario({ rate: 100_000, burst: 100_000, jitterMs: 0 }, 3);
    console.log(`delivery (unpaced): ${result.sent} messages in ${result.seconds.toFixed(1)} s, ${result.reconnected} clients reconnected at least once`);
  }, 240_000);
});

describe('the retention window', () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a client away longer than the window gets recovered: false with the range it lost, then continues', async () => {
    const WINDOW_MS = 2_000;
    cluster = await startCluster(['w1', 'w2'], { deliveryMaxAgeMs: WINDOW_MS });
    const bootstrap = cluster.agents.map((a) => a.httpUrl);
    const publisher = await createPublisher({ nats: { servers: cluster.nats.url } });
    const user = 'wanderer';
    const positions: number[] = [];
    let n = 0;
    let publishing = true;
    const loop = (async () => {
      while (publishing) {
        positions[n] = (await publisher.publish(user, { n })).pos;
        n++;
        // The publishing pace.
        await hold(INTERVAL_MS);
      }
    })();
    try {
      const received: number[] = [];
      const first = createClient({ user, bootstrap });
      first.on('message', (d) => received.push((d as { n: number }).n));
      await waitUntil(() => received.length >= 10, 10_000, 'ten messages');
      first.close();
      const last = first.position!;
      const lastN = received.at(-1)!;
      expect(last).toBe(positions[lastN]);

      // Away until what was published meanwhile starts expiring: the first message after `last` is gone from the store.
      const nc = await connect({ servers: cluster.nats.url });
      try {
        const jsm = await jetstreamManager(nc);
        await waitUntil(
          async () => positions[lastN + 1] !== undefined && (await jsm.streams.getMessage(DELIVERY_DEFAULTS.stream, { seq: positions[lastN + 1] })) === null,
          4 * WINDOW_MS + 10_000,
          'the first message published after the client left to expire',
        );
      } finally {
        await nc.close();
      }
      const events: ({ kind: 'gap'; gap: GapEvent } | { kind: 'message'; n: number })[] = [];
      const second = createClient({ user, bootstrap, last });
      second.on('gap', (gap) => events.push({ kind: 'gap', gap }));
      second.on('message', (d) => events.push({ kind: 'message', n: (d as { n: number }).n }));
      await waitUntil(() => events.filter((e) => e.kind === 'message').length >= 20, 15_000, 'twenty messages after coming back');
      publishing = false;
      await loop;
      second.close();

      // The loss comes first and names exactly the positions after `last` up to the first survivor's predecessor.
      expect(events[0].kind).toBe('gap');
      const gap = (events[0] as { gap: GapEvent }).gap;
      const firstBack = (events[1] as { n: number }).n;
      expect(firstBack).toBeGreaterThan(lastN + 1);
      expect(gap).toEqual({ recovered: false, from: last + 1, to: positions[firstBack - 1], certain: true });
      // Then it continues: every later number once, in order, with no further loss.
      const after = events.slice(1);
      expect(after.every((e) => e.kind === 'message')).toBe(true);
      expect(after.map((e) => (e as { n: number }).n)).toEqual(after.map((_, i) => firstBack + i));
    } finally {
      publishing = false;
      await loop;
      await publisher.close();
    }
  }, 60_000);
});
