// `wsring-sim plan --fleet` (issue 14): the change previewed on a live fleet of real agents over a real NATS,
// printed like a plan; the synthetic options do not mix with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAgent, previewChange, type Agent, type FleetPreview } from '@wsring/node-agent';
import { startNatsServer, type NatsServer } from '@wsring/node-agent/testing';
import { runCli } from './run-cli.js';
import { ringOf } from '../../test/support/ring-of.js';

const BUCKET = 'simfleet';
const USERS = 120;
let nats: NatsServer;
const agents: Agent[] = [];
const sockets: WebSocket[] = [];

/** A user that follows redirects to its owner; resolves once welcomed. */
function connectUser(url: string, user: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?user=${user}`);
    sockets.push(ws);
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { type: string; url?: string };
      if (f.type === 'welcome') resolve();
      if (f.type === 'redirect') connectUser(f.url!, user).then(resolve, reject);
    });
  });
}

beforeAll(async () => {
  nats = await startNatsServer();
  for (const id of ['a', 'b', 'c']) agents.push(await createAgent({ id, nats: { servers: nats.url, bucket: BUCKET }, host: '127.0.0.1', settleMs: 200, heartbeatMs: 100, livenessTimeoutMs: 1_000, delivery: false }));
  await Promise.all(agents.map((a) => ringOf(a, 3)));
  await Promise.all(Array.from({ length: USERS }, (_, i) => connectUser(agents[0].url, `user-${i}`)));
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(agents.map((a) => a.close()));
  await nats?.stop();
});

describe('plan --fleet', () => {
  it('prints the live preview: who answered, users moved of those connected, flows, loads, the wave', async () => {
    const r = await runCli(['plan', '--fleet', nats.url, '--bucket', BUCKET, '--join', 'd', '--no-timing']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const truth = await previewChange(nats.url, { add: [{ id: 'd' }] }, { bucket: BUCKET });
    expect(r.out).toContain(`Live preview on ${nats.url}: add d`);
    expect(r.out).toContain('3 of 3 agents answered');
    expect(r.out).toContain(`Users moved: ${truth.totals.moved} of ${USERS} connected`);
    for (const f of truth.flows) expect(r.out).toMatch(new RegExp(`${f.from} -> d\\s+${f.users}\\b`));
    expect(r.out).toMatch(new RegExp(`\\nd\\s+new\\s+0\\s+${truth.totals.moved}\\s+0\\s+${truth.totals.moved}\\s+1,000`));
    expect(r.out).toMatch(/Expected wave: about [0-9.]+ s, set by d \(\d+ arriving at 1,000\/s\)/);
    expect(r.out).not.toContain('WARNING');
  });

  it('--json --list-users: the agents\' FleetPreview, user ids per (from, to)', async () => {
    const r = await runCli(['plan', '--fleet', nats.url, '--bucket', BUCKET, '--drain', 'b', '--json', '--list-users']);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out) as FleetPreview;
    expect(p.summary).toBe('drain b');
    expect(p.totals.connections).toBe(USERS);
    expect(p.flows.every((f) => f.from === 'b' && f.userIds!.length === f.users)).toBe(true);
    expect(p.flows.reduce((n, f) => n + f.users, 0)).toBe(agents[1].connections);
  });

  it('refuses what does not go with a live fleet, and a fleet it cannot ask, in one line', async () => {
    const cases: [string[], RegExp][] = [
      [['plan', '--fleet', nats.url, '--bucket', BUCKET, '--nodes', '4', '--join', 'x'], /INVALID_OPTION: --nodes does not go with --fleet/],
      [['plan', '--fleet', nats.url, '--bucket', BUCKET, '--add', '1'], /INVALID_OPTION: --add does not go with --fleet: name the nodes/],
      [['plan', '--fleet', nats.url, '--bucket', BUCKET], /INVALID_OPTION: nothing to preview on the fleet/],
      [['plan', '--fleet', nats.url, '--bucket', BUCKET, '--remove', 'zz'], /INVALID_OPTION: zz is not in the ring \(3 nodes\) \(said by all 3 agents/],
      [['plan', '--fleet', nats.url, '--bucket', 'nobody-here', '--join', 'x'], /NO_FLEET: no membership bucket "nobody-here"/],
      [['plan', '--fleet', 'nats://127.0.0.1:9', '--join', 'x'], /NO_FLEET: cannot connect to NATS/],
      [['plan', '--nodes', '3', '--handoff', 'node-1=node-9'], /INVALID_OPTION: --handoff previews the live fleet only/],
      [['plan', '--nodes', '3', '--add', '1', '--bucket', 'x'], /INVALID_OPTION: --bucket needs --fleet/],
    ];
    for (const [argv, pattern] of cases) {
      const r = await runCli(argv);
      expect([r.code, r.out], argv.join(' ')).toEqual([2, '']);
      expect(r.err.split('\n').length, r.err).toBe(2);
      expect(r.err).toMatch(pattern);
    }
  });

  it('--join works on synthetic fleets too: named nodes join', async () => {
    const r = await runCli(['plan', '--nodes', '3', '--users', '1000', '--join', 'big=2', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { steps: { loadAfter: Record<string, number> }[] };
    expect(JSON.stringify(report)).toContain('"big"');
  });
});
