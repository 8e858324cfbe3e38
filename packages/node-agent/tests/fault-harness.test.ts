// The fault harness itself: a NATS cluster from config files that finds leaders through kills, delay relays that
// keep order, and test hosts in network namespaces whose partitions cut and heal (skipped without namespaces).
import { spawn } from 'node:child_process';
import { connect as connectTcp } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createReplicatedStores, NatsCluster, partition, probeNetns, startDelayRelays, startNatsServer, TestNetwork } from '../src/testing/mod.js';
import { run } from '../src/testing/commands.js';

describe('NatsCluster', () => {
  let cluster: NatsCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts three servers from config files, finds the bucket leader, and sees another take over after a SIGKILL', async () => {
    cluster = await NatsCluster.start();
    expect(cluster.servers.map((s) => s.name)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const stores = await createReplicatedStores({ servers: cluster.urls, replicas: 3 });
    expect((await cluster.streamInfo(stores.bucketStream)).config.num_replicas).toBe(3);
    expect((await cluster.streamInfo(stores.deliveryStream!)).config.num_replicas).toBe(3);
    const leader = (await cluster.waitForLeader(stores.bucketStream)).leader;
    expect(await cluster.metaLeader()).toMatch(/^nats-\d$/);

    await cluster.server(leader).kill();
    const next = await cluster.waitForLeader(stores.bucketStream, leader);
    expect(next.leader).not.toBe(leader);
    await cluster.server(leader).start();
    await cluster.waitForReplicasCurrent(stores.bucketStream);
  }, 60_000);
});

describe('delay relays', () => {
  it('add latency on the way back while keeping every byte in order, and take it away again', async () => {
    const nats = await startNatsServer({ jetstream: false });
    const relays = await startDelayRelays('127.0.0.1', [{ host: '127.0.0.1', port: nats.port }]);
    const viaRelay = await connect({ servers: relays.urls[0] });
    const direct = await connect({ servers: nats.url });
    try {
      direct.subscribe('echo', {
        callback: (_e, m) => {
          m.respond(m.data);
        },
      });
      const received: number[] = [];
      viaRelay.subscribe('seq', {
        callback: (_e, m) => {
          received.push(Number(m.string()));
        },
      });
      await Promise.all([viaRelay.flush(), direct.flush()]);
      const rtt = async () => {
        const t = performance.now();
        await viaRelay.request('echo', 'x');
        return performance.now() - t;
      };
      let n = 0;
      const burst = () => {
        for (let i = 0; i < 200; i++) direct.publish('seq', String(n++));
      };
      burst();
      await relays.setDelay(200);
      burst();
      expect(await rtt()).toBeGreaterThanOrEqual(200);
      burst();
      await relays.setDelay(0);
      burst();
      await direct.flush();
      await viaRelay.flush();
      expect(received).toEqual(Array.from({ length: n }, (_, i) => i));
    } finally {
      await viaRelay.close();
      await direct.close();
      await relays.close();
      await nats.stop();
    }
  }, 30_000);
});

const support = await probeNetns();

describe.runIf(support.available)('test hosts in network namespaces', () => {
  const canConnect = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = connectTcp({ host, port, timeout: 1_000 });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('timeout', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(false));
    });

  it('are reachable from the test, cut off by a partition, reachable again after heal, and leave nothing behind', async () => {
    const network = await TestNetwork.create(['server']);
    const host = network.host('server');
    // A TCP listener on the test host.
    const listener = spawn(host.exec[0], [...host.exec.slice(1), process.execPath, '-e', `require('net').createServer((s) => s.end()).listen(7000, '${host.address}', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
      expect(await canConnect(host.address, 7000)).toBe(true);
      const cut = await partition(host, [{ name: 'test', address: network.gateway, exec: [] }]);
      expect(await canConnect(host.address, 7000)).toBe(false);
      await cut.heal();
      expect(await canConnect(host.address, 7000)).toBe(true);
    } finally {
      listener.kill('SIGKILL');
      await new Promise((r) => listener.once('exit', r));
      await network.destroy();
    }
    expect(await run('ip', ['netns', 'list'])).not.toContain(host.namespace);
    expect(await run('ip', ['-4', '-o', 'addr', 'show'])).not.toContain(`${network.gateway}/24`);
  }, 30_000);
});

if (!support.available) console.log(`network namespace tests skipped: ${support.reason}`);
