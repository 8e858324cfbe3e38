// The fleet of the deploy tests (handoff, restart in place): real agents over one MemoryMembership and real
// @wsring/client instances over loopback sockets, all on one ManualClock.
import { createClient, type MoveReason, type WsringClient } from '@wsring/client';
import type { Ring } from '@wsring/ring';
import { createAgent, MemoryMembership, type Agent, type AgentOptions } from '../src/mod.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { driveUntil } from '../../../test/support/drive.js';

/** A client and what it went through: when and where it opened, why it moved. */
export interface TrackedClient {
  client: WsringClient;
  opens: { at: number; node: string }[];
  moves: MoveReason[];
}

export class LoopbackFleet {
  readonly clock = new ManualClock(1_000_000);
  readonly store = new MemoryMembership(() => this.clock.now());
  /** The serving process of each node id; a test that replaces one (a deploy) sets the new one here. */
  readonly agents = new Map<string, Agent>();
  /** One client per user, user-0 .. user-(n-1). */
  readonly clients = new Map<string, TrackedClient>();

  /** `options`: every agent's, on top of the fleet's store and clock. */
  constructor(private readonly options: Partial<AgentOptions>) {}

  /** A new agent process under `id` (not yet in `agents`). */
  start(id: string, extra: Partial<AgentOptions> = {}): Promise<Agent> {
    return createAgent({ id, membership: this.store, port: 0, clock: this.clock, ...this.options, ...extra });
  }

  running(): Agent[] {
    return [...this.agents.values()];
  }

  ring(): Ring {
    return this.running()[0].topology.ring;
  }

  /** A client of `user` bootstrapping from the running agents, recording its opens and moves. */
  client(user: string): TrackedClient {
    const bootstrap = this.running().map((a) => `http://127.0.0.1:${a.port}`);
    const client = createClient({ user, bootstrap, backoff: { baseMs: 50, capMs: 400 }, random: () => 0.5, clock: this.clock });
    const t: TrackedClient = { client, opens: [], moves: [] };
    client.on('open', (o) => t.opens.push({ at: this.clock.now(), node: o.node }));
    client.on('moved', (m) => t.moves.push(m.reason));
    return t;
  }

  /** One ring everywhere; every client open on its owner. */
  settled(): boolean {
    const all = this.running();
    if (all.some((a) => a.topology.fingerprint !== all[0].topology.fingerprint)) return false;
    for (const [user, { client }] of this.clients) if (client.state !== 'open' || client.node !== this.ring().owner(user)) return false;
    return true;
  }

  /** Agents `ids`, agreeing on one ring, then `users` clients, each open on its owner. */
  async up(ids: readonly string[], users: number): Promise<void> {
    for (const id of ids) this.agents.set(id, await this.start(id));
    await driveUntil(this.clock, () => this.running().every((a) => a.topology.ring.nodes.length === ids.length), { what: `${ids.length} agents agree` });
    for (let i = 0; i < users; i++) this.clients.set(`user-${i}`, this.client(`user-${i}`));
    await driveUntil(this.clock, () => this.settled(), { what: 'every client on its owner' });
  }

  /** Forget what the clients went through so far: the next change is judged on its own. */
  resetCounts(): void {
    for (const t of this.clients.values()) {
      t.opens = [];
      t.moves = [];
    }
  }

  async stop(): Promise<void> {
    for (const { client } of this.clients.values()) client.close();
    await Promise.all(this.running().map((a) => a.close()));
  }
}
