import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { spawnAgent, startNatsCluster, startNatsServer, type NatsServer, type SpawnedAgent } from '../src/testing/mod.js';
import { until } from './helpers.js';

describe('testing support', () => {
  let nats: NatsServer | undefined;
  let agent: SpawnedAgent | undefined;
  afterAll(async () => {
    await agent?.kill();
    await nats?.stop();
  });

  it('starts a nats-server of its own, restarts it on the same port, and spawns an agent that serves /topology', async () => {
    nats = await startNatsServer({ jetstream: true });
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const port = nats.port;
    agent = await spawnAgent({ id: 'solo', nats: nats.url, settleMs: 100, heartbeatMs: 200, livenessMs: 1000 });
    const topology = await (await fetch(`${agent.httpUrl}/topology`)).json();
    expect(topology.nodes.map((n: { id: string }) => n.id)).toEqual(['solo']);
    expect(topology.ring.nodes[0].meta.url).toBe(agent.url);

    await nats.restart();
    expect(nats.port).toBe(port);
    const nc = await connect({ servers: nats.url });
    await nc.close();
    await agent.kill('SIGKILL');
    expect(await agent.exited).toBe('SIGKILL');
  });
});

describe('nats cluster', () => {
  it('startNatsCluster gives a JetStream cluster; agents on different servers see each other', async () => {
    const servers = await startNatsCluster(3);
    const agents: SpawnedAgent[] = [];
    try {
      for (const [i, s] of servers.slice(0, 2).entries()) {
        agents.push(await spawnAgent({ id: `n${i}`, nats: s.url, settleMs: 100, heartbeatMs: 200, livenessMs: 1000 }));
      }
      await until(async () => (await (await fetch(`${agents[0].httpUrl}/topology`)).json()).ring.nodes.length === 2, 10_000, 'n0 sees n1');
    } finally {
      await Promise.all(agents.map((a) => a.kill()));
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});
