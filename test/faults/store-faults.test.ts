// Issue 10, store faults on a replicated cluster: 3 nats-servers (bucket and delivery stream with 3 replicas), 4
// agents, 300 clients, one numbered message per user per second. Whatever the store goes through, placement must
// not change: no client dropped, no reconnect frame, no ring change, no message lost or duplicated.
import { addLatency, HeartbeatCounter, partition } from '@wsring/node-agent/testing';
import { describe, expect, it } from 'vitest';
import { faultsEnabled, netns } from './environment.js';
import { sharedTestbed } from './shared-testbed.js';
import { storeFaultFigures, throughFault, type FaultRun } from './through-fault.js';
import { BUCKET, BUCKET_STREAM, DELIVERY_STREAM, HEARTBEAT_MS, LIVENESS_MS, Testbed } from './testbed.js';

const TEST_TIMEOUT_MS = 150_000;

/** The store-fault verdict: the five figures zero, and the run itself complete (recovered, every message home). */
function expectNothingChanged(run: FaultRun): void {
  expect({ ...storeFaultFigures(run), problems: run.problems }).toEqual({ clientsDropped: 0, reconnectFrames: 0, ringChanges: 0, lost: 0, duplicated: 0, problems: [] });
}

/** A testbed requirement: the bucket and the delivery stream led by different servers. */
const leadersApart = async (bed: Testbed) => {
  const { bucket, stream } = await bed.leaders();
  return bucket === stream ? `${bucket} leads both the bucket and the delivery stream` : undefined;
};

/** SIGKILL the server `pick` names, wait until the bucket and the stream have live leaders, start it again. */
async function killServer(bed: Testbed, pick: (leaders: { bucket: string; stream: string; neither: string[] }) => string) {
  const { bucket, stream, meta } = await bed.leaders();
  const neither = bed.cluster.servers.map((s) => s.name).filter((n) => n !== bucket && n !== stream);
  const victim = bed.cluster.server(pick({ bucket, stream, neither }));
  const agentsOnVictim = await bed.agentsOn(victim);
  await victim.kill();
  const [bucketElection, streamElection] = await Promise.all([
    bed.cluster.waitForLeader(BUCKET_STREAM, victim.name === bucket ? bucket : undefined),
    bed.cluster.waitForLeader(DELIVERY_STREAM, victim.name === stream ? stream : undefined),
  ]);
  await victim.start();
  return {
    victim: victim.name,
    leaders: `bucket ${bucket} stream ${stream} meta ${meta}`,
    agentsOnVictim: agentsOnVictim?.join(' ') ?? 'n/a (loopback)',
    // Only a leader's death calls an election.
    electionMs: victim.name === bucket ? bucketElection.ms : victim.name === stream ? streamElection.ms : undefined,
  };
}

describe.runIf(faultsEnabled)('store faults on a 3-server cluster: placement does not move', () => {
  const beds = sharedTestbed({ namespaces: netns.available, distinctLeaders: true });

  it(
    'SIGKILL of the membership bucket leader',
    async () => {
      const bed = await beds.acquire(leadersApart);
      expectNothingChanged(await throughFault(bed, 'SIGKILL bucket leader', () => killServer(bed, (l) => l.bucket)));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'SIGKILL of the delivery stream leader',
    async () => {
      const bed = await beds.acquire(leadersApart);
      expectNothingChanged(await throughFault(bed, 'SIGKILL stream leader', () => killServer(bed, (l) => l.stream)));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'SIGKILL of a server that leads neither',
    async () => {
      const bed = await beds.acquire();
      expectNothingChanged(await throughFault(bed, 'SIGKILL server leading neither', () => killServer(bed, (l) => l.neither[0])));
    },
    TEST_TIMEOUT_MS,
  );

  it.runIf(netns.available)(
    'one NATS server (the bucket leader) partitioned from the other two',
    async () => {
      const bed = await beds.acquire();
      const run = await throughFault(bed, 'NATS server partitioned from its peers', async () => {
        const { bucket, stream } = await bed.leaders();
        const victim = bed.cluster.server(bucket);
        const agentsOnVictim = await bed.agentsOn(victim);
        const cut = await partition(
          bed.nsHost(victim.name),
          bed.cluster.servers.filter((s) => s !== victim).map((s) => s.host),
        );
        const started = performance.now();
        try {
          // The majority elects a new bucket leader; the cut then holds for three liveness periods more.
          const election = await bed.cluster.waitForLeader(BUCKET_STREAM, bucket);
          await new Promise((r) => setTimeout(r, 3 * LIVENESS_MS));
          return {
            victim: victim.name,
            leaders: `bucket ${bucket} stream ${stream}`,
            agentsOnVictim: agentsOnVictim?.join(' ') ?? 'n/a',
            electionMs: election.ms,
            partitionMs: Math.round(performance.now() - started),
          };
        } finally {
          await cut.heal();
        }
      });
      expectNothingChanged(run);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a full NATS outage of three liveness periods',
    async () => {
      const bed = await beds.acquire();
      const run = await throughFault(bed, 'full NATS outage, 3 liveness periods', async () => {
        await Promise.all(bed.cluster.servers.map((s) => s.kill()));
        // The outage is the fault: its length is what the issue names.
        await new Promise((r) => setTimeout(r, 3 * LIVENESS_MS));
        const restarted = performance.now();
        await Promise.all(bed.cluster.servers.map((s) => s.start()));
        const serversReadyMs = Math.round(performance.now() - restarted);
        await Promise.all([bed.cluster.waitForLeader(BUCKET_STREAM), bed.cluster.waitForLeader(DELIVERY_STREAM)]);
        return { outageMs: 3 * LIVENESS_MS, serversReadyMs, leadersAfterRestartMs: Math.round(performance.now() - restarted) };
      });
      expectNothingChanged(run);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '200 ms added latency to the store',
    async () => {
      // netem on the servers' hosts where the kernel has it; else relays (a process of their own) delay what the
      // servers send the agents, which then need a testbed of their own.
      const viaNetem = netns.available && netns.netem;
      if (!viaNetem) await beds.stop();
      const bed = viaNetem ? await beds.acquire() : await Testbed.start({ namespaces: netns.available, relays: true });
      try {
        const run = await throughFault(bed, `200 ms store latency (${viaNetem ? 'netem on the NATS hosts' : 'delay relays: no sch_netem'})`, async () => {
          const faults = viaNetem ? await Promise.all(bed.cluster.servers.map((s) => addLatency(bed.nsHost(s.name), 200))) : [];
          if (!viaNetem) await bed.setStoreLatency(200);
          const started = performance.now();
          const heartbeats = await HeartbeatCounter.open(bed.cluster.urls, BUCKET);
          try {
            // Held for five liveness periods' worth of heartbeats from every agent.
            await heartbeats.waitFor(
              bed.agents.map((a) => a.id),
              (5 * LIVENESS_MS) / HEARTBEAT_MS,
              60_000,
            );
          } finally {
            await heartbeats.close();
            if (!viaNetem) await bed.setStoreLatency(0);
            await Promise.all(faults.map((f) => f.heal()));
          }
          return { latencyHeldMs: Math.round(performance.now() - started) };
        });
        expectNothingChanged(run);
      } finally {
        if (!viaNetem) await bed.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
