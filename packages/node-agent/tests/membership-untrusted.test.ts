// Issue 11: membership records are untrusted input. The parser gives a valid record or a typed refusal for any value
// (fast-check); against a real nats-server, records that are malformed, outside the allowed origins, or a flood of
// thousands are ignored with a warning and a metric, never applied, and /healthz keeps answering with epochs that
// never go down.
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent, type Logger } from '../src/mod.js';
import { NODE_ID_PATTERN, RECORD_LIMITS } from '../src/options.js';
import { parseStoredTopology, readMemberRecord } from '../src/membership/records.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { FAST, openClient, until } from './helpers.js';

describe('the membership record parser (fuzzed)', () => {
  const field = fc.oneof(fc.anything(), fc.double(), fc.string(), fc.constantFrom('ws://h:1/ws', 'wss://x/ws', 'not-a-url', 'http://h/', 1e9, 1e300, -1, 0, 'active', 'draining'));
  const recordLike = fc.record(
    { id: fc.oneof(fc.string(), fc.stringMatching(NODE_ID_PATTERN)), url: field, weight: field, state: field, acceptRate: field, holdMs: field, connections: field, capacity: field, startedAt: field, seq: field },
    { requiredKeys: [] },
  );

  it('any value gives a record within every documented bound, or a reason; nothing throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue(), recordLike), (value) => {
        const read = readMemberRecord(value);
        if (!read.ok) {
          expect(typeof read.reason).toBe('string');
          return;
        }
        const r = read.record;
        expect(r.id).toMatch(NODE_ID_PATTERN);
        expect(new URL(r.url).protocol).toMatch(/^wss?:$/);
        expect(r.weight > 0 && r.weight <= RECORD_LIMITS.maxWeight).toBe(true);
        expect(['joining', 'active', 'draining']).toContain(r.state);
        if (r.acceptRate !== undefined) expect(r.acceptRate > 0 && r.acceptRate <= RECORD_LIMITS.maxAcceptRate).toBe(true);
        if (r.holdMs !== undefined) expect(Number.isSafeInteger(r.holdMs) && r.holdMs >= 0 && r.holdMs <= RECORD_LIMITS.maxHoldMs).toBe(true);
        for (const n of [r.connections, r.capacity]) if (n !== undefined) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
        for (const n of [r.startedAt, r.seq]) expect(Number.isFinite(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('the findings: a URL that is no URL, weight 1e9, an epoch of 1e300 are refused with their reason', () => {
    const base = { id: 'n', url: 'ws://127.0.0.1:1/ws', weight: 1, state: 'active', startedAt: 1, seq: 1 };
    expect(readMemberRecord(base).ok).toBe(true);
    expect(readMemberRecord({ ...base, url: 'not-a-url' })).toEqual({ ok: false, reason: 'url' });
    expect(readMemberRecord({ ...base, weight: 1e9 })).toEqual({ ok: false, reason: 'weight' });
    expect(readMemberRecord({ ...base, id: 'a.b' })).toEqual({ ok: false, reason: 'id' });
    expect(readMemberRecord({ ...base, seq: -1 })).toEqual({ ok: false, reason: 'seq' });
    expect(parseStoredTopology({ epoch: 1e300, fingerprint: 'x' })).toBeNull();
    fc.assert(fc.property(fc.anything(), (v) => void parseStoredTopology(v)));
  });
});

let nats: NatsServer;
let nc: NatsConnection;
const warnings: Record<string, unknown>[] = [];
const logger: Logger = { info() {}, debug() {}, error() {}, warn: (obj) => warnings.push(obj as Record<string, unknown>) };
const metric = async (a: Agent, name: string, labels: string) => {
  const text = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
};

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('an agent reading hostile records from NATS', () => {
  it('ignores malformed records and labels with a warning and a metric; clients keep getting a usable topology', async () => {
    const a = await createAgent({ id: 'good', nats: { servers: nats.url, bucket: 'hostile' }, ...FAST, delivery: false, logger });
    try {
      const kv: KV = await new Kvm(nc).open('hostile');
      const epochBefore = a.topology.epoch;
      await kv.put('members.evil', JSON.stringify({ id: 'evil', url: 'not-a-url', weight: 1, state: 'active', startedAt: 1, seq: 1 }));
      await kv.put('members.heavy', JSON.stringify({ id: 'heavy', url: 'ws://127.0.0.1:9/ws', weight: 1e9, state: 'active', startedAt: 1, seq: 1 }));
      await kv.put('members.liar', JSON.stringify({ id: 'other', url: 'ws://127.0.0.1:9/ws', weight: 1, state: 'active', startedAt: 1, seq: 1 }));
      await kv.put('topology', JSON.stringify({ epoch: 1e300, fingerprint: 'forged' }));
      await until(async () => (await metric(a, 'wsring_membership_records_ignored_total', 'reason="topology-label"')) >= 1, 10_000, 'forged label counted');
      expect(await metric(a, 'wsring_membership_records_ignored_total', 'reason="url"')).toBeGreaterThanOrEqual(1);
      expect(await metric(a, 'wsring_membership_records_ignored_total', 'reason="weight"')).toBeGreaterThanOrEqual(1);
      expect(await metric(a, 'wsring_membership_records_ignored_total', 'reason="key-mismatch"')).toBeGreaterThanOrEqual(1);
      const ignored = warnings.filter((w) => w.event === 'record-ignored').map((w) => `${w.key}:${w.reason}`);
      expect(ignored).toEqual(expect.arrayContaining(['members.evil:url', 'members.heavy:weight', 'members.liar:key-mismatch', 'topology:topology-label']));
      const body = (await (await fetch(`http://127.0.0.1:${a.port}/topology`)).json()) as { epoch: number; nodes: { id: string; url: string }[] };
      expect(body.nodes.map((n) => n.id)).toEqual(['good']);
      expect(body.epoch).toBe(epochBefore);
      // A newcomer still starts, and the fleet labels its ring with an exact epoch above the last one.
      const b = await createAgent({ id: 'newcomer', nats: { servers: nats.url, bucket: 'hostile' }, ...FAST, delivery: false });
      try {
        await until(() => a.topology.ring.nodes.length === 2 && b.topology.epoch === a.topology.epoch, 10_000, 'both serve the two-node ring');
        expect(a.topology.epoch).toBeGreaterThan(epochBefore);
        expect(Number.isSafeInteger(a.topology.epoch)).toBe(true);
      } finally {
        await b.close();
      }
      const c = openClient(a.url, { user: 'someone' });
      await c.frame((f) => f.type === 'welcome' || f.type === 'redirect');
      c.ws.close();
    } finally {
      await a.close();
    }
  }, 60_000);

  it('with allowedOrigins, a member URL elsewhere is never served to clients', async () => {
    // The agent's own URL must fit too.
    await expect(createAgent({ id: 'fenced', nats: { servers: nats.url, bucket: 'origins' }, ...FAST, url: 'ws://127.0.0.1:7002/ws', allowedOrigins: ['ws://127.0.0.1:7001'] })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    const ok = await createAgent({ id: 'fenced', nats: { servers: nats.url, bucket: 'origins' }, ...FAST, delivery: false, logger, port: 0, url: 'ws://127.0.0.1:7001/ws', allowedOrigins: ['ws://127.0.0.1:7001', 'wss://nodes.example.com'] });
    try {
      const kv = await new Kvm(nc).open('origins');
      await kv.put('members.outsider', JSON.stringify({ id: 'outsider', url: 'wss://attacker.example.net/ws', weight: 1, state: 'active', startedAt: 1, seq: 1 }));
      await kv.put('members.insider', JSON.stringify({ id: 'insider', url: 'wss://nodes.example.com/ws', weight: 1, state: 'active', startedAt: 1, seq: 1 }));
      await until(() => ok.topology.nodes.some((n) => n.id === 'insider'), 10_000, 'the insider is seen');
      expect(ok.topology.nodes.map((n) => n.id)).not.toContain('outsider');
      expect(await metric(ok, 'wsring_membership_records_ignored_total', 'reason="origin"')).toBeGreaterThanOrEqual(1);
    } finally {
      await ok.close();
    }
  }, 60_000);

  it('a flood of 2,000 records: members capped, every /healthz answered, the epoch never goes down', async () => {
    // Members outlive the flood (liveness 60 s): the cap, not a timeout, is what keeps the table small.
    const a = await createAgent({ id: 'flooded', nats: { servers: nats.url, bucket: 'flood' }, ...FAST, heartbeatMs: 1_000, livenessTimeoutMs: 60_000, delivery: false, logger, maxMembers: 100 });
    let flooding = true;
    try {
      const kv = await new Kvm(nc).open('flood');
      const epochs: number[] = [];
      const statuses: number[] = [];
      // Back to back, one request in flight: each answer (or its 10 s timeout) is one sample of whether the node still serves.
      const poll = (async () => {
        while (flooding) {
          try {
            const res = await fetch(`http://127.0.0.1:${a.port}/healthz`, { signal: AbortSignal.timeout(10_000) });
            statuses.push(res.status);
            epochs.push(((await res.json()) as { epoch: number }).epoch);
          } catch {
            statuses.push(0); // no answer within 10 s
          }
        }
      })();
      const started = Date.now();
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => {
            const id = `flood-${batch * 100 + i}`;
            return kv.put(`members.${id}`, JSON.stringify({ id, url: `ws://10.1.${batch}.${i}:1/ws`, weight: 1, state: 'active', startedAt: 1, seq: 1 }));
          }),
        );
      }
      await until(async () => (await metric(a, 'wsring_membership_records_ignored_total', 'reason="too-many-members"')) >= 1_901, 30_000, 'the flood is read');
      flooding = false;
      await poll;
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      console.log(`flood: 2,000 records written and read in ${Date.now() - started} ms; ${statuses.length} /healthz answers meanwhile`);
      expect(statuses.length).toBeGreaterThan(0);
      for (let i = 1; i < epochs.length; i++) expect(epochs[i]).toBeGreaterThanOrEqual(epochs[i - 1]);
      expect(a.topology.nodes.length).toBeLessThanOrEqual(100);
      // Warned once per key, not once per heartbeat: no more warnings than records.
      expect(warnings.filter((w) => w.event === 'record-ignored' && String(w.key).startsWith('members.flood-')).length).toBeLessThanOrEqual(2_000);
    } finally {
      flooding = false;
      await a.close();
    }
  }, 120_000);
});
