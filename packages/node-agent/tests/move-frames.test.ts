// Reconnect and redirect frames carry the sender's topology to clients that hold an older one, so a moved client
// needs no /topology fetch; and a grace close counts only when the agent really had to close an open socket.
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRing } from '@wsring/ring';
import { createClient, type MoveReason, type WsringClient } from '@wsring/client';
import { CloseCode, decodeServerFrame, type ReconnectFrame } from '@wsring/protocol';
import { createAgent, generateTopologyKeyPair, MemoryMembership, type Agent, type AgentOptions } from '../src/mod.js';
import { moveFrameText, topologyBody } from '../src/topology-json.js';
import type { AgentTopology } from '../src/types.js';
import { openClient, until } from './helpers.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { driveUntil, pass } from '../../../test/support/drive.js';

const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 2_000, settleMs: 200, host: '127.0.0.1' } satisfies Partial<AgentOptions>;

describe('moveFrameText', () => {
  it('splices the topology in for a client with an older or unknown epoch, serializing the ring once per snapshot', async () => {
    const ring = await createRing(['a', 'b', 'c'].map((id) => ({ id, meta: { url: `ws://${id}.test/ws` } })));
    const t: AgentTopology = { epoch: 4, fingerprint: ring.fingerprint, ring, nodes: [] };
    const toJSON = vi.spyOn(ring, 'toJSON');
    const frame = { type: 'reconnect', node: 'b', url: 'ws://b.test/ws', epoch: 4, fingerprint: ring.fingerprint, graceMs: 5_000 } as const;
    const texts = [3, undefined, 0, 3].map((epoch) => moveFrameText(frame, t, epoch));
    expect(toJSON).toHaveBeenCalledTimes(1);
    for (const text of texts) {
      const decoded = decodeServerFrame(text) as ReconnectFrame;
      expect(decoded).toEqual({ ...frame, topology: JSON.parse(JSON.stringify(topologyBody(t))) });
    }
    // A client already at the frame's epoch (or ahead) gets the bare frame.
    for (const epoch of [4, 5]) expect(JSON.parse(moveFrameText(frame, t, epoch))).toEqual(frame);
  });
});

/** A sample of one metric from an agent's /metrics (0 when absent). */
async function metric(agent: Agent, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

// Signed: clients given the fleet key move on the topology inside their frame, without a fetch. Unsigned: they
// cannot tell the sender's topology from a forged one, so each moved client confirms the joiner by one refetch.
for (const signed of [true, false]) describe(`a join with real clients (${signed ? 'signed topologies' : 'unsigned topologies'})`, () => {
  // Agents and clients on one manual clock: settling, pacing and backoff move only as the test says.
  const clock = new ManualClock(1_000_000);
  const store = new MemoryMembership(() => clock.now());
  const fleet = generateTopologyKeyPair();
  const agents = new Map<string, Agent>();
  const clients = new Map<string, { client: WsringClient; moves: MoveReason[]; errors: string[] }>();
  const start = async (id: string) =>
    agents.set(
      id,
      await createAgent({
        id,
        membership: store,
        port: 0,
        clock,
        ...TIMING,
        pacing: { ratePerSec: 400, burst: 20, jitterMs: 20, graceMs: 5_000 },
        ...(signed ? { topologySigningKey: fleet.privateKeyPem } : {}),
      }),
    );
  const ringIds = (a: Agent) => a.topology.ring.nodes.map((n) => n.id).join(',');

  beforeAll(async () => {
    await start('a');
    await start('b');
    await driveUntil(clock, () => [...agents.values()].every((a) => ringIds(a) === 'a,b'), { what: 'a,b agree' });
  });
  afterAll(async () => {
    for (const { client } of clients.values()) client.close();
    await Promise.all([...agents.values()].map((a) => a.close()));
  });

  it(`moves the users whose owner changed to the joiner ${signed ? 'without a single /topology request' : 'after one /topology request each'}`, async () => {
    const bootstrap = [...agents.values()].map((a) => `http://127.0.0.1:${a.port}`);
    for (let i = 0; i < 60; i++) {
      const user = `user-${i}`;
      const client = createClient({ user, bootstrap, backoff: { baseMs: 50, capMs: 400 }, random: () => 0.5, timers: clock, ...(signed ? { topologyKey: fleet.publicKey } : {}) });
      const tracked = { client, moves: [] as MoveReason[], errors: [] as string[] };
      client.on('moved', (m) => tracked.moves.push(m.reason));
      client.on('error', (e) => tracked.errors.push(e.code));
      clients.set(user, tracked);
    }
    const onOwners = () => {
      const ring = agents.get('a')!.topology.ring;
      return [...clients].every(([user, { client }]) => client.state === 'open' && client.node === ring.owner(user));
    };
    await driveUntil(clock, onOwners, { what: 'every client on its owner' });
    const fetchesBefore = (await Promise.all([...agents.values()].map((a) => metric(a, 'wsring_topology_requests_total')))).reduce((x, y) => x + y, 0);
    expect(fetchesBefore).toBe(clients.size);
    const before = agents.get('a')!.topology.ring;
    const epochBefore = agents.get('a')!.topology.epoch;

    await start('c');
    await driveUntil(clock, () => [...agents.values()].every((a) => ringIds(a) === 'a,b,c'), { what: 'a,b,c agree' });
    await driveUntil(clock, onOwners, { what: 'every client on its new owner' });
    const after = agents.get('a')!.topology;
    const moved = [...clients.keys()].filter((user) => before.owner(user) !== after.ring.owner(user));
    expect(moved.length).toBeGreaterThan(0);
    for (const [user, { client, moves, errors }] of clients) {
      expect(moves).toEqual(moved.includes(user) ? ['reconnect'] : []);
      expect(errors).toEqual([]);
      // Moved clients hold the new topology (it came with their frame, or from the refetch); the others were not touched at all.
      expect(client.epoch).toBe(moved.includes(user) ? after.epoch : epochBefore);
    }
    const fetchesAfter = (await Promise.all([...agents.values()].map((a) => metric(a, 'wsring_topology_requests_total')))).reduce((x, y) => x + y, 0);
    expect(fetchesAfter - fetchesBefore).toBe(signed ? 0 : moved.length);
  });

  it('a redirect at connect carries the topology to a client with an older epoch, not to one that has it', async () => {
    const t = agents.get('a')!.topology;
    let user = '';
    for (let i = 0; !user; i++) if (t.ring.owner(`redirected-${i}`) !== 'a') user = `redirected-${i}`;
    const stale = openClient(agents.get('a')!.url, { user, epoch: t.epoch - 1 });
    const withTopology = await stale.frame((f) => f.type === 'redirect');
    expect(withTopology).toMatchObject({ node: t.ring.owner(user), epoch: t.epoch, topology: { epoch: t.epoch, fingerprint: t.fingerprint } });
    const current = openClient(agents.get('a')!.url, { user, epoch: t.epoch });
    const bare = await current.frame((f) => f.type === 'redirect');
    expect(bare).toMatchObject({ node: t.ring.owner(user), epoch: t.epoch });
    expect('topology' in bare).toBe(false);
    await Promise.all([stale.closed, current.closed]);
  });
});

const sockets: Socket[] = [];

/**
 * A raw WebSocket client that, on its reconnect frame, sends a close frame and then goes silent: it never reads
 * the agent's answering close frame nor closes its end, so the agent's socket stays CLOSING (for ws's 30 s close
 * timeout) past the grace period.
 */
function halfClosingClient(nodeUrl: string, user: string, epoch: number): Promise<{ socket: Socket; sentClose: Promise<void> }> {
  const { port, pathname } = new URL(nodeUrl);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), '127.0.0.1');
    sockets.push(socket);
    let seen = '';
    let resolveSent: () => void;
    const sentClose = new Promise<void>((r) => (resolveSent = r));
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(
        `GET ${pathname}?user=${encodeURIComponent(user)}&epoch=${epoch} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.includes('"type":"welcome"') && !seen.includes('"type":"reconnect"')) resolve({ socket, sentClose });
      if (seen.includes('"type":"reconnect"')) {
        // A masked close frame, code 1000, as a client leaving for its new node sends.
        const mask = randomBytes(4);
        const payload = Buffer.from([0x03, 0xe8]).map((b, i) => b ^ mask[i % 4]);
        socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | 2]), mask, payload]));
        socket.pause();
        socket.removeAllListeners('data');
        resolveSent();
      }
    });
    socket.on('close', () => reject(new Error(`closed before welcome: ${seen}`)));
  });
}

describe('grace closes', () => {
  const store = new MemoryMembership();
  const agents: Agent[] = [];
  const GRACE_MS = 300;

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(agents.map((a) => a.close()));
  });

  it('count only clients the agent had to close while open, not clients already closing', async () => {
    // The agents on a manual clock: the grace period starts when the test lets it, after the leaving client's close frame is in.
    const clock = new ManualClock(1_000_000);
    const options = (id: string): AgentOptions => ({ id, membership: store, port: 0, clock, ...TIMING, pacing: { ratePerSec: 400, burst: 20, jitterMs: 0, graceMs: GRACE_MS } });
    const a = await createAgent(options('a'));
    agents.push(a);
    const probe = await createRing([{ id: 'a' }, { id: 'b' }]);
    const users: string[] = [];
    for (let i = 0; users.length < 2; i++) if (probe.owner(`grace-${i}`) === 'b') users.push(`grace-${i}`);
    const [stubbornUser, leavingUser] = users;
    const stubborn = openClient(a.url, { user: stubbornUser, epoch: a.topology.epoch });
    await stubborn.frame((f) => f.type === 'welcome');
    const leaving = await halfClosingClient(a.url, leavingUser, a.topology.epoch);
    expect(a.connections).toBe(2);

    let sent = 0;
    a.on('rebalance-sent', (e) => (sent += e.sent));
    agents.push(await createAgent(options('b')));
    // a settles on a,b and sends both their reconnect frames; its grace timers start now.
    await driveUntil(clock, () => sent === 2, { what: 'both reconnect frames sent' });
    const sentAt = clock.now();
    await stubborn.frame((f) => f.type === 'reconnect');
    await leaving.sentClose;
    await until(() => a.connection(leavingUser)?.socket.readyState === 2, 5_000, "the leaving client's close frame in");
    expect(clock.now() - sentAt).toBeLessThan(GRACE_MS);
    await pass(clock, GRACE_MS);
    expect((await stubborn.closed).code).toBe(CloseCode.MOVED);
    // Well past the leaving client's grace period too; its socket is still closing, not closed.
    await pass(clock, GRACE_MS);
    expect(a.connection(leavingUser)?.socket.readyState).toBe(2);
    expect(await metric(a, 'wsring_grace_closes_total')).toBe(1);
    expect(await metric(a, 'wsring_refused_total', `code="${CloseCode.MOVED}"`)).toBe(1);
    leaving.socket.destroy();
    await until(() => a.connections === 0, 5_000, 'the closing socket gone');
  });
});
