import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createAgent, MemoryMembership, NatsMembership } from '../src/mod.js';
import { EpochAgreement } from '../src/internal.js';
import { NatsCluster } from '../src/testing/mod.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

describe('epochs never go down', () => {
  it('a ring the store labelled lower than this agent serves (after a local label in an outage) gets a label above it', async () => {
    const store = new MemoryMembership();
    const epochs = new EpochAgreement(store, { timeoutMs: 1_000, clock: new ManualClock(), logger: silent });
    await store.casTopology({ epoch: 3, fingerprint: 'F' }, 0);
    // Serving F at a local label 4: the stored 3 would be a step back.
    expect(await epochs.agree('F', { epoch: 4, fingerprint: 'F' })).toEqual({ epoch: 4, confirmed: true });
    expect((await store.readTopology())?.stored).toEqual({ epoch: 4, fingerprint: 'F' });
    // A new ring G the store labelled 4 while this agent serves F at 4: G needs a number of its own.
    const revision = (await store.readTopology())!.revision;
    await store.casTopology({ epoch: 4, fingerprint: 'G' }, revision);
    expect(await epochs.agree('G', { epoch: 4, fingerprint: 'F' })).toEqual({ epoch: 5, confirmed: true });
    // The usual case: the store already names the new ring above what this agent serves.
    expect(await epochs.agree('G', { epoch: 2, fingerprint: 'E' })).toEqual({ epoch: 5, confirmed: true });
  });
});

describe('a serving agent never settles on an empty ring or one without itself', () => {
  it('its own record deleted from the store (a store fault) leaves its ring as it was', async () => {
    const store = new MemoryMembership();
    const a = await createAgent({ id: 'a', membership: store, host: '127.0.0.1', settleMs: 0, delivery: false });
    const b = await createAgent({ id: 'b', membership: store, host: '127.0.0.1', settleMs: 0, delivery: false });
    try {
      await expect.poll(() => a.topology.ring.nodes.length).toBe(2);
      const before = a.topology;
      await store.remove('a');
      // b settles on the ring without a (for b, a is gone); a refuses to serve a ring without itself.
      await expect.poll(() => b.topology.ring.nodes.length).toBe(1);
      expect([a.topology.epoch, a.topology.fingerprint, a.topology.ring.nodes.length]).toEqual([before.epoch, before.fingerprint, 2]);
      const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
      expect(metrics).toMatch(/wsring_rings_refused_total\{node="a"\} [1-9]/);
      // Its next heartbeat puts it back; the fleet settles on both again.
      await expect.poll(() => b.topology.ring.nodes.length, { timeout: 5_000 }).toBe(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('replicas on a NATS cluster', () => {
  let cluster: NatsCluster;
  let urls: string[];
  let nc: NatsConnection;
  beforeAll(async () => {
    // Ready means JetStream answers and the meta leader counts every peer current: 3-replica streams need all three.
    cluster = await NatsCluster.start();
    await cluster.waitForJetStream();
    urls = cluster.urls;
    nc = await connect({ servers: urls });
  }, 120_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('creates the bucket and the stream with the replicas asked for, and scales existing ones to it', async () => {
    const jsm = await jetstreamManager(nc);
    // An existing one-replica bucket, as every earlier version created it.
    await new Kvm(nc).create('scaled', { history: 1, replicas: 1 });
    const agent = await createAgent({
      id: 'r1',
      host: '127.0.0.1',
      nats: { servers: urls, bucket: 'scaled', replicas: 3 },
      delivery: { stream: 'SCALED_DELIVERY', subjectPrefix: 'scaled.user', livePrefix: 'scaled.live', replicas: 3 },
    });
    try {
      expect((await jsm.streams.info('KV_scaled')).config.num_replicas).toBe(3);
      expect((await jsm.streams.info('SCALED_DELIVERY')).config.num_replicas).toBe(3);
      expect(agent.health().store).toMatchObject({ connected: true });
    } finally {
      await agent.close();
    }
  }, 60_000);

  it('an agent without the option leaves an existing bucket as it is; an invalid count is refused naming it', async () => {
    const jsm = await jetstreamManager(nc);
    await new Kvm(nc).create('kept', { history: 1, replicas: 3 });
    const m = await NatsMembership.connect({ servers: urls, bucket: 'kept' });
    await m.close();
    expect((await jsm.streams.info('KV_kept')).config.num_replicas).toBe(3);
    await expect(NatsMembership.connect({ servers: urls, bucket: 'kept', replicas: 7 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('1-5, got 7'),
    });
  }, 60_000);
});

