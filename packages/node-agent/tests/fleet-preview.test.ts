// The live preview of a change (issue 14): every agent answers from its key index which of its users the change
// would move and to whom; the sum over the fleet is exactly what then happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WebSocket } from 'ws';
import { createKeyIndex, createRing, movedKeys, type Algorithm } from '@wsring/ring';
import { createAgent, previewChange, type Agent, type AgentOptions, type FleetPreview, type MemberRecord } from '../src/mod.js';
import { ClientConnection, ConnectionRegistry } from '../src/internal.js';
import { applyChange, parseChange, PreviewError } from '../src/fleet-page/change.js';
import { answerPreview } from '../src/fleet-page/preview-answer.js';
import { buildPreview } from '../src/fleet-page/preview-report.js';
import { previewOverNats } from '../src/fleet-page/preview-client.js';
import { DEFAULTS } from '../src/options.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, FollowingClient, until } from './helpers.js';

const pacing = { ...DEFAULTS.pacing };

describe('a change, checked and applied', () => {
  it('refuses malformed changes with one clear message', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /empty/],
      [{ add: 'n1' }, /add must be a list/],
      [{ add: [{ id: 'a b' }] }, /node id/],
      [{ remove: ['x'], frobnicate: 1 }, /unknown field "frobnicate"/],
      [{ reweight: { a: 0 } }, /reweight\.a must be a number/],
      [{ handoff: [{ from: 'a' }] }, /handoff\[0\]\.to/],
    ];
    for (const [raw, message] of bad) expect(() => parseChange(raw), JSON.stringify(raw)).toThrow(message);
  });

  it('builds the ring a fleet settles on: same fingerprint as a fresh ring over the new member set', async () => {
    const ring = await createRing([{ id: 'a', weight: 2 }, { id: 'b' }, { id: 'c' }]);
    const cases: [object, { id: string; weight?: number }[]][] = [
      [{ add: [{ id: 'd', weight: 3 }] }, [{ id: 'a', weight: 2 }, { id: 'b' }, { id: 'c' }, { id: 'd', weight: 3 }]],
      [{ drain: ['b'] }, [{ id: 'a', weight: 2 }, { id: 'c' }]],
      [{ remove: ['a'], reweight: { c: 4 } }, [{ id: 'b' }, { id: 'c', weight: 4 }]],
      [{ handoff: [{ from: 'a', to: 'a2' }] }, [{ id: 'a2', weight: 2 }, { id: 'b' }, { id: 'c' }]],
    ];
    for (const [change, nodes] of cases) {
      const next = await applyChange(ring, parseChange(change), undefined);
      expect(next.fingerprint, JSON.stringify(change)).toBe((await createRing(nodes)).fingerprint);
    }
    await expect(applyChange(ring, { remove: ['z'] }, undefined)).rejects.toThrow(PreviewError);
    await expect(applyChange(ring, { add: [{ id: 'a' }] }, undefined)).rejects.toThrow(/already in the ring/);
    await expect(applyChange(ring, { remove: ['a', 'b', 'c'] }, undefined)).rejects.toThrow(/no node/);
  });

  it('the answers of all agents sum to exactly the moved users per (from, to), for every algorithm', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Algorithm>('ring', 'maglev', 'rendezvous'),
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 1, max: 400 }),
        fc.constantFrom('add', 'remove', 'reweight', 'handoff'),
        fc.integer({ min: 0, max: 1000 }),
        async (algorithm, n, users, kind, pick) => {
          const ids = Array.from({ length: n }, (_, i) => `n${i}`);
          const ring = await createRing(ids.map((id) => ({ id })), { algorithm });
          const victim = ids[pick % n];
          const change = parseChange(
            kind === 'add' ? { add: [{ id: 'new', weight: 1 + (pick % 3) }] } : kind === 'remove' ? { remove: [victim] } : kind === 'reweight' ? { reweight: { [victim]: 3 } } : { handoff: [{ from: victim, to: 'fresh' }] },
          );
          const userIds = Array.from({ length: users }, (_, i) => `u${i}-${pick}`);
          const answers = new Map();
          for (const id of ids) {
            const registry = new ConnectionRegistry(await createKeyIndex(undefined, { seed: 0 }));
            for (const u of userIds) if (ring.owner(u) === id) registry.add(new ClientConnection(u, {} as WebSocket, false, 0), []);
            const topology = { epoch: 1, fingerprint: ring.fingerprint, ring, nodes: [] };
            const a = await answerPreview(
              { self: id, state: () => 'serving', topology: () => topology, registry, prefsDepth: 9, ringOptions: { algorithm }, capacity: 10_000, acceptRate: 1000, pacing, pending: () => 0 },
              { v: 1, change, users: true },
            );
            answers.set(id, a);
          }
          const next = await applyChange(ring, change, { algorithm });
          const members: MemberRecord[] = ids.map((id) => ({ id, url: `ws://h/${id}`, weight: 1, state: 'active', startedAt: 0, seq: 0 }));
          const preview = buildPreview({ change, members, answers, deadlineMs: 1000, latencyMs: 0, defaultAcceptRate: 1000 });
          const truth = new Map<string, string[]>();
          for (const m of movedKeys(ring, next, userIds)) truth.set(`${m.from}>${m.to}`, [...(truth.get(`${m.from}>${m.to}`) ?? []), m.key]);
          const predicted = new Map(preview.flows.map((f) => [`${f.from}>${f.to}`, f.userIds]));
          expect(new Map([...predicted].map(([k, v]) => [k, [...v!].sort()]))).toEqual(new Map([...truth].map(([k, v]) => [k, v.sort()])));
          expect(preview.totals.moved).toBe([...truth.values()].reduce((s, v) => s + v.length, 0));
          expect(preview.nextFingerprint).toBe(next.fingerprint);
          // Loads after: every user counted once, on its new owner.
          const after = new Map(preview.nodes.map((x) => [x.id, x.after]));
          for (const node of next.nodes) expect(after.get(node.id) ?? 0).toBe(userIds.filter((u) => next.owner(u) === node.id).length);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('the live preview on a real fleet', () => {
  const USERS = 300;
  const BUCKET = 'preview';
  let nats: NatsServer;
  const agents = new Map<string, Agent>();
  let clients: FollowingClient[] = [];
  const options = (id: string): AgentOptions => ({
    id,
    nats: { servers: nats.url, bucket: BUCKET },
    ...FAST,
    delivery: false,
    pacing: { ratePerSec: 1_000, burst: 20, jitterMs: 50, graceMs: 2_000 },
  });
  const urlOf = (id: string) => agents.get(id)!.url;
  const ringIds = (a: Agent) => a.topology.ring.nodes.map((n) => n.id).join(',');

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    for (const id of ['a', 'b', 'c']) agents.set(id, await createAgent(options(id)));
    await until(() => [...agents.values()].every((a) => ringIds(a) === 'a,b,c'), 10_000, 'a,b,c agree');
    clients = Array.from({ length: USERS }, (_, i) => new FollowingClient(`user-${i}`, urlOf));
    for (const c of clients) await c.connect(agents.get('a')!.url);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([...agents.values()].map((a) => a.close()));
    await nats?.stop();
  });

  /** What happened: per (from, to), the users that got a reconnect frame since `before`. */
  function movesMade(before: Map<string, { node: string | undefined; reconnects: number }>): Map<string, string[]> {
    const made = new Map<string, string[]>();
    for (const c of clients) {
      const was = before.get(c.user)!;
      for (const r of c.reconnects.slice(was.reconnects)) {
        const key = `${was.node}>${r.node}`;
        made.set(key, [...(made.get(key) ?? []), c.user]);
      }
    }
    for (const v of made.values()) v.sort();
    return made;
  }
  const predicted = (p: FleetPreview) => new Map(p.flows.map((f) => [`${f.from}>${f.to}`, f.userIds!]));
  const snapshot = () => new Map(clients.map((c) => [c.user, { node: c.node, reconnects: c.reconnects.length }]));

  it('a join: the preview names exactly the users that then move, per (from, to)', async () => {
    const started = performance.now();
    const preview = await previewChange(nats.url, { add: [{ id: 'd' }] }, { bucket: BUCKET, users: true });
    const latencyMs = performance.now() - started;
    console.log(`preview of a join on 3 agents, ${USERS} users: ${latencyMs.toFixed(0)} ms end to end (answers in ${preview.latencyMs} ms)`);
    expect(preview.missing).toEqual([]);
    expect(preview.answered).toEqual(['a', 'b', 'c']);
    expect(preview.errors).toEqual([]);
    expect(preview.totals.connections).toBe(USERS);
    expect(preview.totals.moved).toBeGreaterThan(0);
    expect(preview.flows.every((f) => f.to === 'd')).toBe(true);
    const d = preview.nodes.find((n) => n.id === 'd')!;
    expect(d).toMatchObject({ state: 'new', before: 0, in: preview.totals.moved, after: preview.totals.moved });
    expect(preview.wave.receivers).toEqual([{ id: 'd', arriving: preview.totals.moved, acceptRate: 1000, seconds: preview.totals.moved / 1000 }]);
    // Read-only: nothing changed.
    expect([...agents.values()].every((a) => ringIds(a) === 'a,b,c')).toBe(true);

    const before = snapshot();
    agents.set('d', await createAgent(options('d')));
    await until(() => [...agents.values()].every((a) => ringIds(a) === 'a,b,c,d'), 10_000, 'a,b,c,d agree');
    expect(agents.get('a')!.topology.fingerprint).toBe(preview.nextFingerprint);
    const next = agents.get('a')!.topology.ring;
    await until(() => clients.every((c) => c.node === next.owner(c.user)), 15_000, 'moved clients on their new owner');
    expect(movesMade(before)).toEqual(predicted(preview));
  });

  it('a drain: the preview names exactly the users that then move, per (from, to), with the wave at each receiver', async () => {
    const preview = await previewChange(nats.url, { drain: ['b'] }, { bucket: BUCKET, users: true });
    expect(preview.missing).toEqual([]);
    expect(preview.flows.every((f) => f.from === 'b')).toBe(true);
    const b = preview.nodes.find((n) => n.id === 'b')!;
    expect(b.after).toBe(0);
    expect(b.out).toBe(agents.get('b')!.connections);
    for (const r of preview.wave.receivers) expect(r.seconds).toBeCloseTo(r.arriving / r.acceptRate, 3);
    // The wave: the slowest receiver, or b's own ceiling, plus jitter.
    expect(preview.wave.seconds).toBeGreaterThanOrEqual(Math.max(...preview.wave.receivers.map((r) => r.seconds)));

    const before = snapshot();
    const result = await agents.get('b')!.drain({ deadlineMs: 10_000 });
    expect(result).toEqual({ remaining: 0 });
    agents.delete('b');
    expect(movesMade(before)).toEqual(predicted(preview));
  });

  it('names the members that do not answer in time, and counts the rest', async () => {
    const members: MemberRecord[] = [...agents.values()].map((a) => ({ id: a.id, url: a.url, weight: 1, state: 'active', startedAt: 0, seq: 0 }));
    members.push({ id: 'ghost', url: 'ws://127.0.0.1:9/ws', weight: 1, state: 'active', startedAt: 0, seq: 0 });
    // The drained node's clients may still be on their way to their new nodes: the preview counts what agents hold.
    await until(() => [...agents.values()].reduce((sum, a) => sum + a.connections, 0) === USERS, 15_000, 'every client connected again');
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: nats.url });
    try {
      const started = performance.now();
      const preview = await previewOverNats({ nc, bucket: BUCKET, members, change: { add: [{ id: 'e' }] }, deadlineMs: 500 });
      expect(performance.now() - started).toBeGreaterThanOrEqual(450);
      expect(preview.missing).toEqual(['ghost']);
      expect(preview.answered).toEqual(['a', 'c', 'd']);
      expect(preview.nodes.find((n) => n.id === 'ghost')).toMatchObject({ before: null, after: null });
      expect(preview.totals.connections).toBe(USERS);
    } finally {
      await nc.close();
    }
  });

  it('refuses a change that does not apply, from every agent', async () => {
    await expect(previewChange(nats.url, { remove: ['nobody'] }, { bucket: BUCKET })).rejects.toThrow(/nobody is not in the ring \(3 nodes\) \(said by all 3 agents that answered\)/);
    await expect(previewChange(nats.url, { remove: ['a'] }, { bucket: 'no-such-bucket' })).rejects.toThrow(/no membership bucket/);
  });
});
