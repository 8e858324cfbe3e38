// Forged move frames against real agents and the real SDK over real sockets. Node `a` is reached through a
// proxy written here (a compromised edge, or a man in the middle): it relays everything and can inject or
// rewrite frames. An attacker's node records every connection it gets. Whatever the proxy does, the client
// must not go to the attacker, its token must never reach it, its epoch must stay the fleet's, and it must
// still follow the fleet's genuine moves. Run twice: agents signing their topologies (clients given the key),
// and unsigned (clients trust only what they fetch from their bootstrap URLs).
import type { AddressInfo } from 'node:net';
import { createRing } from '@wsring/ring';
import { createTopologySigner, generateTopologyKeyPair } from '@wsring/node-agent';
import { spawnAgent, startNatsServer, type NatsServer, type SpawnedAgent } from '@wsring/node-agent/testing';
import type { ReconnectFrame, Topology } from '@wsring/client';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_AGENT, fleetKeyFile, hs256, startClients, topology as topologyOf, users, waitForAgreement, waitUntil, type TrackedClient } from './support.js';

const SECRET = 'integration-trust-secret-0123456789abcdef';
const token = (user: string) => hs256({ sub: user, exp: Math.floor(Date.now() / 1000) + 3_600 }, SECRET);

/** Close codes `ws` lets an endpoint send; anything else (1005, 1006) is relayed as a plain close. */
const sendable = (code: number) => (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

/** A WebSocket relay in front of one agent that can inject frames to, and rewrite frames for, its clients. */
class MaliciousProxy {
  readonly server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  /** ws URL of the agent behind it; set once the agent runs. */
  upstream = '';
  /** Client sockets by user, the newest. */
  readonly clients = new Map<string, WebSocket>();
  /** Rewrites a frame from the agent to a user (return the text to pass on). */
  rewrite: (user: string, text: string) => string = (_user, text) => text;

  constructor() {
    this.server.on('connection', (client, req) => {
      const path = req.url ?? '/ws';
      const user = new URL(path, 'ws://x').searchParams.get('user') ?? '';
      this.clients.set(user, client);
      const agent = new WebSocket(new URL(path, this.upstream).toString());
      const early: RawData[] = [];
      agent.on('open', () => early.splice(0).forEach((m) => agent.send(m.toString())));
      agent.on('message', (data) => client.readyState === WebSocket.OPEN && client.send(this.rewrite(user, data.toString())));
      agent.on('close', (code, reason) => (sendable(code) ? client.close(code, reason) : client.close()));
      agent.on('error', () => client.terminate());
      client.on('message', (data) => (agent.readyState === WebSocket.OPEN ? agent.send(data.toString()) : early.push(data)));
      client.on('close', (code, reason) => (sendable(code) ? agent.close(code, reason) : agent.close()));
      client.on('error', () => agent.terminate());
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws`;
  }

  inject(user: string, frame: unknown): void {
    this.clients.get(user)?.send(JSON.stringify(frame));
  }

  close(): Promise<void> {
    for (const socket of this.server.clients) socket.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The attacker's node: accepts WebSocket upgrades and records the URL (with any token) of each. */
class AttackerNode {
  readonly server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  readonly seen: string[] = [];
  constructor() {
    this.server.on('connection', (socket, req) => {
      this.seen.push(req.url ?? '');
      socket.send(JSON.stringify({ type: 'welcome', node: 'evil', epoch: Number.MAX_SAFE_INTEGER, fingerprint: 'evil' }));
    });
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws`;
  }
  close(): Promise<void> {
    for (const socket of this.server.clients) socket.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A topology that checks out in itself (its fingerprint is its ring's) and sends everyone to the attacker. */
async function attackerTopology(url: string): Promise<Topology> {
  const ring = await createRing([{ id: 'evil', meta: { url } }]);
  return { protocol: 1, epoch: Number.MAX_SAFE_INTEGER, fingerprint: ring.fingerprint, ring: ring.toJSON(), nodes: [{ id: 'evil', url, weight: 1, state: 'active' }] };
}

/** /topology requests each client made, by user. */
const fetches = new Map<string, number>();
const countingFetch = (user: string) => (url: string, init?: RequestInit) => {
  fetches.set(user, (fetches.get(user) ?? 0) + 1);
  return fetch(url, init);
};

const errors = (c: TrackedClient) => (c.events.error ?? []).map((e) => e.code);

for (const signed of [true, false]) {
  describe(`forged move frames through a malicious proxy (${signed ? 'signed topologies, clients given the key' : 'unsigned topologies'})`, () => {
    let nats: NatsServer;
    const agents: SpawnedAgent[] = [];
    const proxy = new MaliciousProxy();
    const attacker = new AttackerNode();
    const fleet = fleetKeyFile();
    const flags = { ...FAST_AGENT, graceMs: 2_000, jwtSecret: SECRET, ...(signed ? { topologyKeyFile: fleet.keyFile } : {}) };
    const clientOptions = { backoff: { baseMs: 50, capMs: 500 }, ...(signed ? { topologyKey: fleet.publicKey } : {}) };
    let clients: TrackedClient[] = [];

    beforeAll(async () => {
      nats = await startNatsServer();
      // Node `a` advertises the proxy's URL: every client of `a` goes through it.
      const a = await spawnAgent({ ...flags, id: 'a', nats: nats.url, url: proxy.url });
      proxy.upstream = `ws://127.0.0.1:${a.port}/ws`;
      agents.push(a, await spawnAgent({ ...flags, id: 'b', nats: nats.url }));
      await waitForAgreement(agents, 2);
    });
    afterAll(async () => {
      for (const c of clients) c.client.close();
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      await nats?.stop();
      await proxy.close();
      await attacker.close();
    });

    it('a forged reconnect or redirect sends no client to the attacker, leaks no token, and leaves its epoch alone', async () => {
      const probe = await createRing([{ id: 'a' }, { id: 'b' }]);
      const onA = users(200, `trust-${signed}`).filter((u) => probe.owner(u) === 'a').slice(0, 12);
      // Each client with its own token (the token function is called per connect) and its own fetch counter.
      clients = onA.map((user) => startClients([user], agents, { ...clientOptions, token: () => token(user), fetch: countingFetch(user) })[0]);
      await waitUntil(() => clients.every((c) => c.client.state === 'open' && c.client.node === 'a'), 30_000, 'clients open on a through the proxy');
      const genuine = await topologyOf(agents[1]);
      for (const c of clients) expect(c.client.userId).toBe(c.user);

      // Every kind of forgery the proxy can make: an attacker topology unsigned, signed by the attacker's own
      // key, or carrying the fleet's real signature of another body; a bare frame to the attacker; a frame to
      // a genuine node at the highest epoch there is.
      const evil = await attackerTopology(attacker.url);
      const forgeries: Topology[] = [
        evil,
        { ...evil, signature: genuine.signature ?? 'AAAA' },
        { ...evil, signature: createTopologySigner(generateTopologyKeyPair().privateKeyPem).sign(evil) },
      ];
      for (const [i, c] of clients.entries()) {
        const topology = forgeries[i % forgeries.length];
        const frame: ReconnectFrame = { type: 'reconnect', node: 'evil', url: attacker.url, epoch: topology.epoch, fingerprint: topology.fingerprint, graceMs: 0, topology };
        if (i % 4 === 3) proxy.inject(c.user, { type: 'redirect', node: 'evil', url: attacker.url, epoch: Number.MAX_SAFE_INTEGER, fingerprint: 'x', reason: 'not-owner' });
        else proxy.inject(c.user, frame);
      }
      // Each client refetches its topology from its bootstrap URLs to check the named node, and refuses it.
      await waitUntil(() => clients.every((c) => errors(c).includes('UNKNOWN_NODE')), 30_000, 'every client to have checked and refused the forged node');
      expect(attacker.seen).toEqual([]);
      for (const c of clients) {
        expect(c.client.state).toBe('open');
        expect(c.client.node).toBe('a');
        expect(c.client.epoch).toBe(genuine.epoch);
        expect(c.sockets.every((s) => !s.url.includes(new URL(attacker.url).host))).toBe(true);
        if (signed) expect(errors(c).some((e) => e === 'UNTRUSTED_TOPOLOGY')).toBe(c.sockets[0].frames.some((f) => 'topology' in f.frame));
      }

      // A forged frame to a genuine node at an absurd epoch: confirmed by a refetch first, never adopted.
      const victim = clients[0];
      proxy.inject(victim.user, { type: 'reconnect', node: 'b', url: agents[1].url, epoch: Number.MAX_SAFE_INTEGER, fingerprint: 'x', graceMs: 0 });
      await waitUntil(() => victim.sockets.some((s) => s.node === 'b'), 30_000, 'the victim to try b after confirming it');
      expect(victim.sockets.find((s) => s.node === 'b')!.url).toContain(`epoch=${genuine.epoch}`);
      await waitUntil(() => victim.client.state === 'open' && victim.client.node === 'a', 30_000, 'b to send the victim back to its owner');
      expect(victim.client.epoch).toBe(genuine.epoch);
    });

    it('the fleet’s genuine moves are still followed; moves rewritten to the attacker are not', async () => {
      // Half the clients' reconnect frames are rewritten: the target's URL (in the frame and in its topology,
      // signature kept) becomes the attacker's.
      const tampered = new Set(clients.filter((_c, i) => i % 2 === 0).map((c) => c.user));
      const errorsBefore = new Map(clients.map((t) => [t.user, errors(t).length]));
      const fetchesBefore = new Map(fetches);
      proxy.rewrite = (user, text) => {
        if (!tampered.has(user) || !text.includes('"type":"reconnect"')) return text;
        const frame = JSON.parse(text) as ReconnectFrame;
        const real = frame.url;
        const swap = (body: string) => body.split(real).join(attacker.url);
        return swap(JSON.stringify(frame));
      };
      const c = await spawnAgent({ ...flags, id: 'c', nats: nats.url });
      agents.push(c);
      const { ring, topology: after } = await waitForAgreement(agents, 3);
      const movers = clients.filter((t) => ring.owner(t.user) !== 'a');
      expect(movers.length).toBeGreaterThan(0);
      // Everyone ends on its owner under the new ring: genuine frames at once, rewritten ones after the grace close.
      await waitUntil(() => clients.every((t) => t.client.state === 'open' && t.client.node === ring.owner(t.user)), 60_000, 'every client on its new owner');
      expect(attacker.seen).toEqual([]);
      for (const t of clients) expect(t.client.epoch === after.epoch || ring.owner(t.user) === 'a').toBe(true);
      const genuineMovers = movers.filter((t) => !tampered.has(t.user));
      for (const t of genuineMovers) expect(t.events.moved?.at(-1)).toMatchObject({ from: 'a', to: ring.owner(t.user) });
      for (const t of movers.filter((m) => tampered.has(m.user))) {
        // The client asks its bootstrap URLs again (moveConfirmRetries, 3.75 s in all) before it drops the move with
        // UNKNOWN_NODE; the node's MOVED close after graceMs can come first, and then the move is simply superseded.
        const seen = errors(t).slice(errorsBefore.get(t.user));
        expect(seen.filter((e) => e !== 'UNKNOWN_NODE')).toEqual(signed ? ['UNTRUSTED_TOPOLOGY'] : []);
        expect(seen.filter((e) => e === 'UNKNOWN_NODE').length).toBeLessThanOrEqual(1);
      }
      for (const t of genuineMovers) {
        const fetched = (fetches.get(t.user) ?? 0) - (fetchesBefore.get(t.user) ?? 0);
        if (signed) {
          // The topology came with the frame, checked: the client went at once, without a fetch.
          expect(errors(t).slice(errorsBefore.get(t.user))).toEqual([]);
          expect(t.events.moved?.at(-1)).toMatchObject({ reason: 'reconnect' });
          expect(fetched).toBe(0);
        } else {
          // A refetch confirmed the joiner first (a bootstrap agent that has not applied the join yet can make
          // it wait for the next attempt instead: never a move to an unconfirmed node either way).
          expect(fetched).toBeGreaterThanOrEqual(1);
          const found = errors(t).slice(errorsBefore.get(t.user));
          expect(found.filter((e) => e !== 'UNKNOWN_NODE')).toEqual([]);
          if (fetched === 1) expect(found).toEqual([]);
        }
      }
    });
  });
}
