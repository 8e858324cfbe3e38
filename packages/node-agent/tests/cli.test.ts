import { afterAll, describe, expect, it } from 'vitest';
import { loadRing } from '@wsring/ring';
import { spawnAgent, startNatsServer, type NatsServer, type SpawnedAgent } from '../src/testing/mod.js';
import { openClient, until } from './helpers.js';

describe('wsring-agent CLI', () => {
  let nats: NatsServer | undefined;
  const agents: SpawnedAgent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill()));
    await nats?.stop();
  });

  it('logs JSON, and on SIGTERM drains (its user gets a reconnect to the other node), deregisters and exits 0', async () => {
    nats = await startNatsServer({ jetstream: true });
    const flags = { settleMs: 200, heartbeatMs: 100, livenessMs: 500, jitterMs: 0, graceMs: 3_000 };
    const a = await spawnAgent({ id: 'a', nats: nats.url, ...flags });
    agents.push(a);
    const b = await spawnAgent({ id: 'b', nats: nats.url, ...flags });
    agents.push(b);
    const topologyOf = async (x: SpawnedAgent) => (await fetch(`${x.httpUrl}/topology`)).json();
    await until(async () => (await topologyOf(a)).ring.nodes.length === 2, 5_000, 'a sees b');
    const ring = await loadRing((await topologyOf(a)).ring);
    let user = '';
    for (let i = 0; !user; i++) if (ring.owner(`u${i}`) === 'a') user = `u${i}`;
    const client = openClient(a.url, { user });
    await client.frame((f) => f.type === 'welcome');

    await a.kill('SIGTERM');
    expect(await client.frame((f) => f.type === 'reconnect')).toMatchObject({ node: 'b', url: b.url });
    client.ws.close(1000);
    expect(await a.exited).toBe(0);
    expect(a.logs.some((l) => l.event === 'signal' && l.signal === 'SIGTERM')).toBe(true);
    expect(a.logs.find((l) => l.event === 'exit')).toMatchObject({ remaining: 0 });
    expect(typeof a.logs[0].level).toBe('number');
    await until(async () => (await topologyOf(b)).nodes.map((n: { id: string }) => n.id).join() === 'b', 5_000, 'a deregistered');
  });
});
