// Many sessions per user against real parts: a nats-server, agents in child processes, and @wsring/client
// instances in a child process, 300 users with 1-4 sessions (tabs) each. A publisher sends every user numbered
// messages while a node joins and another drains. Every session must receive its user's numbers 0, 1, 2, ...
// exactly once each and in order; all sessions of a user must sit on one node; no session may be closed.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPublisher, type Publisher } from '@wsring/node-agent';
import type { SpawnedAgent } from '@wsring/node-agent/testing';
import { describe, expect, it } from 'vitest';
import { hold, startCluster, waitForAgreement, waitUntil, type Cluster } from './support.js';

const USERS = 300;

interface TabReport {
  user: string;
  next: number;
  errors: string[];
  gaps: unknown[];
  opens: number;
  state: string;
  node: string | null;
  session: string | null;
  sessions: string[];
}

/** 1-4 tabs per user from a fixed-seed generator: the same spread every run. */
function tabsPerUser(seed: number): { key: string; user: string }[] {
  let a = seed >>> 0;
  const next = () => {
    a = (Math.imul(a, 1_664_525) + 1_013_904_223) >>> 0;
    return a / 2 ** 32;
  };
  const tabs: { key: string; user: string }[] = [];
  for (let u = 0; u < USERS; u++) {
    const count = 1 + Math.floor(next() * 4);
    for (let t = 0; t < count; t++) tabs.push({ key: `s${u}#${t}`, user: `s${u}` });
  }
  return tabs;
}

class TabProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(tabs: { key: string; user: string }[], bootstrap: string[]): Promise<TabProcess> {
    const child = fork(fileURLToPath(new URL('./sessions-clients.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const started = new Promise<void>((resolve) => child.once('message', () => resolve()));
    child.send({ type: 'start', tabs, bootstrap, options: { backoff: { baseMs: 100, capMs: 2_000 } } });
    await started;
    return new TabProcess(child);
  }

  report(): Promise<Map<string, TabReport>> {
    return new Promise((resolve) => {
      const onMessage = (m: { type: string; tabs: Record<string, TabReport> }) => {
        if (m.type !== 'report') return;
        this.child.off('message', onMessage);
        resolve(new Map(Object.entries(m.tabs)));
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'report' });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'close' });
    });
  }
}

async function allOpen(tabs: TabProcess, timeoutMs = 60_000): Promise<Map<string, TabReport>> {
  let open = 0;
  let report = new Map<string, TabReport>();
  await waitUntil(
    async () => {
      report = await tabs.report();
      open = [...report.values()].filter((t) => t.state === 'open').length;
      return open === report.size;
    },
    timeoutMs,
    () => `every session open (${open} are)`,
  );
  return report;
}

/** Every user's sessions on one node, with distinct session ids. */
function expectTogether(report: Map<string, TabReport>): void {
  const byUser = new Map<string, TabReport[]>();
  for (const t of report.values()) byUser.set(t.user, [...(byUser.get(t.user) ?? []), t]);
  for (const [user, tabs] of byUser) {
    expect({ user, nodes: [...new Set(tabs.map((t) => t.node))].length }).toEqual({ user, nodes: 1 });
    expect({ user, sessions: new Set(tabs.map((t) => t.session)).size }).toEqual({ user, sessions: tabs.length });
  }
}

/** Sum of a gauge over the agents' /metrics. */
async function gauge(agents: SpawnedAgent[], name: string): Promise<number> {
  let sum = 0;
  for (const a of agents) {
    const text = await (await fetch(`${a.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    sum += Number(line?.split(' ').at(-1) ?? 0);
  }
  return sum;
}

describe('many sessions per user, against real agents and NATS', () => {
  it('300 users with 1-4 sessions each: through a join and a drain every session gets every number once, in order, beside its user\'s other sessions', async () => {
    const cluster: Cluster = await startCluster(['m1', 'm2', 'm3']);
    const tabs = tabsPerUser(12);
    const users = [...new Set(tabs.map((t) => t.user))];
    let clients: TabProcess | undefined;
    let publisher: Publisher | undefined;
    const sent = new Map<string, number>(users.map((u) => [u, 0]));
    let publishing = true;
    let loop: Promise<void> = Promise.resolve();
    try {
      clients = await TabProcess.start(tabs, cluster.agents.map((a) => a.httpUrl));
      const opened = await allOpen(clients);
      expectTogether(opened);
      expect(await gauge(cluster.agents, 'wsring_connections')).toBe(tabs.length);
      expect(await gauge(cluster.agents, 'wsring_users')).toBe(USERS);

      publisher = await createPublisher({ nats: { servers: cluster.nats.url }, publishTimeoutMs: 5_000 });
      const p = publisher;
      // Rounds: every user its next number, then a short pause.
      loop = (async () => {
        while (publishing) {
          await Promise.all(
            users.map(async (u) => {
              const n = sent.get(u)!;
              await p.publish(u, { n }, { id: `${u}:${n}` });
              sent.set(u, n + 1);
            }),
          );
          await hold(100);
        }
      })();
      const rounds = async (count: number) => {
        const from = Math.min(...sent.values());
        await waitUntil(() => Math.min(...sent.values()) >= from + count, 60_000, `${count} more rounds`);
      };
      await rounds(3);

      // A fourth agent joins: about a quarter of the users move, with all their sessions.
      await cluster.add('m4');
      await waitForAgreement(cluster.agents, 4);
      await rounds(3);
      expectTogether(await allOpen(clients));

      // An agent drains: every user on it moves, all its sessions to one node.
      const drained = cluster.agents[0];
      await drained.stop(30_000);
      const alive = cluster.agents.filter((a) => a !== drained);
      await waitForAgreement(alive, 3);
      await rounds(3);
      const afterDrain = await allOpen(clients);
      expectTogether(afterDrain);

      publishing = false;
      await loop;
      let behind = 0;
      await waitUntil(
        async () => {
          const r = await clients!.report();
          behind = [...r.values()].filter((t) => t.next < sent.get(t.user)!).length;
          return behind === 0;
        },
        60_000,
        () => `every session to have every number (${behind} behind)`,
      );
      const report = await clients.report();
      for (const [key, t] of report) {
        expect({ key, next: t.next, errors: t.errors, gaps: t.gaps, sessions: t.sessions.length }).toEqual({ key, next: sent.get(t.user)!, errors: [], gaps: [], sessions: 1 });
      }
      // The changes did move sessions: the join and the drain each reconnect a good share.
      const moved = [...report.values()].filter((t) => t.opens > 1).length;
      expect(moved).toBeGreaterThan(tabs.length / 4);
      expect(await gauge(alive, 'wsring_connections')).toBe(tabs.length);
      expect(await gauge(alive, 'wsring_users')).toBe(USERS);
      console.log(`sessions: ${tabs.length} sessions of ${USERS} users, ${[...sent.values()].reduce((a, b) => a + b, 0)} messages, ${moved} sessions moved at least once`);
    } finally {
      publishing = false;
      await loop.catch(() => {});
      await publisher?.close();
      await clients?.stop();
      await cluster.stop();
    }
  }, 240_000);
});
