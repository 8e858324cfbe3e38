// Runs one fault against a testbed under a steady numbered publish and measures what it did to placement,
// clients and delivery. The fault itself (inject, wait for its effect, heal) is the caller's; the run around it
// is the same for every fault: flow first, then the fault, then recovery, then a quiet period counted in
// heartbeats during which any late reaction (an eviction, a rebalance) would show, then every message home.
import { createPublisher } from '@wsring/node-agent';
import { HeartbeatCounter } from '@wsring/node-agent/testing';
import { health, topology, waitForAgreement, waitUntil } from '../integration/support.js';
import { ClientMark, report, type ClientFigures } from './figures.js';
import { explainLost } from './lost-messages.js';
import { NumberedDelivery, type DeliveryTally } from './numbered-delivery.js';
import { PlacementWatch, type PlacementFigures } from './placement-watch.js';
import { BUCKET, BUCKET_STREAM, DELIVERY_STREAM, HEARTBEAT_MS, LIVENESS_MS, SETTLE_MS, type Testbed } from './testbed.js';

/** One message per user per second: 300 msg/s for 300 users, each acknowledged by a 3-replica stream. */
const PUBLISH_INTERVAL_MS = 1_000;
/** After recovery, twice (liveness + settle) in heartbeats: long enough for any eviction and its rebalance to show. */
export const QUIET_HEARTBEATS = Math.ceil((2 * (LIVENESS_MS + SETTLE_MS)) / HEARTBEAT_MS);
/** Once publishing stops, how long every confirmed message may take to reach its client. */
const DELIVERY_DEADLINE_MS = 15_000;

export interface FaultRun {
  /** What the clients saw since just before the fault. */
  clients: ClientFigures;
  mark: ClientMark;
  placement: PlacementFigures;
  delivery: DeliveryTally;
  /** What the fault reported (victim, election time, ...). */
  fault: Record<string, unknown>;
  /** Why the cluster, the agents or delivery did not come back in time, if they did not. */
  problems: string[];
  /** The whole run, ms. */
  ms: number;
}

/** The five figures the issue asks to be zero for a store fault. */
export const storeFaultFigures = (r: FaultRun) => ({
  clientsDropped: r.clients.dropped,
  reconnectFrames: r.clients.reconnectFrames,
  ringChanges: r.placement.ringChanges,
  lost: r.delivery.lost,
  duplicated: r.delivery.duplicated,
});

/**
 * Every agent serving and connected to the store again, both streams led with every replica current, then
 * QUIET_HEARTBEATS more heartbeats from every agent.
 */
export async function waitForRecovery(bed: Testbed, timeoutMs = 45_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const left = () => Math.max(1_000, deadline - performance.now());
  let states = '';
  await waitUntil(
    async () => {
      const hs = await Promise.all(bed.agents.map((a) => health(a).then((h) => h.body, () => undefined)));
      states = hs.map((h, i) => `${bed.agents[i].id}:${h ? `${h.state}/${h.membershipConnected ? 'store' : 'no store'}` : 'no answer'}`).join(' ');
      return hs.every((h) => h?.state === 'serving' && h.membershipConnected);
    },
    left(),
    () => `agents serving with their store (${states})`,
  );
  await bed.cluster.waitForReplicasCurrent(BUCKET_STREAM, left());
  await bed.cluster.waitForReplicasCurrent(DELIVERY_STREAM, left());
  const heartbeats = await HeartbeatCounter.open(bed.cluster.urls, BUCKET);
  try {
    await heartbeats.waitFor(
      bed.agents.map((a) => a.id),
      QUIET_HEARTBEATS,
      left(),
    );
  } finally {
    await heartbeats.close();
  }
}

/** Each agent's placement at the end, if they do not all serve the one they served before the fault. */
async function endPlacementProblem(bed: Testbed, before: { fingerprint: string }): Promise<string | undefined> {
  const served = await Promise.all(bed.agents.map((a) => topology(a).then((t) => t, () => undefined)));
  if (served.every((t) => t?.fingerprint === before.fingerprint)) return undefined;
  return `placement at the end: ${served.map((t, i) => `${bed.agents[i].id} ${t ? `${t.epoch}{${t.ring.nodes.map((n) => n.id).join(',')}}` : 'no answer'}`).join(' ')}`;
}

/** Publish, inject `fault`, recover, measure; logs the figures under `title`. Never throws for a bad figure. */
export async function throughFault(
  bed: Testbed,
  title: string,
  fault: () => Promise<Record<string, unknown>>,
  recover: () => Promise<void> = () => waitForRecovery(bed),
): Promise<FaultRun> {
  const started = performance.now();
  const before = (await waitForAgreement(bed.agents, bed.agents.length)).topology;
  const publisher = await createPublisher({ nats: { servers: bed.cluster.urls }, publishTimeoutMs: 2_000 });
  const delivery = new NumberedDelivery(publisher, bed.clients, PUBLISH_INTERVAL_MS);
  const watch = new PlacementWatch(bed.agents);
  const problems: string[] = [];
  let details: Record<string, unknown> = {};
  let mark: ClientMark | undefined;
  try {
    delivery.start();
    // The live path works for everyone before anything breaks.
    await waitUntil(() => delivery.receivedAtLeast(1), 20_000, 'every client to receive its first message');
    mark = new ClientMark(bed.clients);
    watch.start(before);
    details = await fault();
    await recover().catch((err: Error) => problems.push(`recovery: ${err.message}`));
    await delivery.stop();
    await waitUntil(() => delivery.complete(), DELIVERY_DEADLINE_MS, 'every confirmed message to reach its client').catch(async () => {
      const explained = await explainLost(bed.cluster.urls, delivery.lostSamples(3), bed.clients).catch((err: Error) => [`(could not read the stream: ${err.message})`]);
      problems.push(`delivery: messages missing ${DELIVERY_DEADLINE_MS} ms after the last publish: ${explained.join('; ')}`);
    });
    const end = await endPlacementProblem(bed, before);
    if (end) problems.push(end);
  } finally {
    await delivery.stop();
    delivery.detach();
    await watch.stop();
    await publisher.close();
  }
  const run: FaultRun = {
    clients: mark.figures(),
    mark,
    placement: watch.figures(),
    delivery: delivery.tally(),
    fault: details,
    problems,
    ms: Math.round(performance.now() - started),
  };
  report(title, {
    ...storeFaultFigures(run),
    ...details,
    rebalances: run.placement.rebalances,
    epochs: run.placement.epochs,
    memberSets: run.placement.memberSets.map((s) => `{${s}}`),
    epochRegressions: run.placement.epochRegressions,
    served: run.placement.sequences.length ? run.placement.sequences.join('; ') : 'one placement throughout',
    notOpen: run.clients.notOpen,
    published: run.delivery.published,
    delivered: run.delivery.delivered,
    gaps: run.delivery.gaps,
    publishRetries: run.delivery.retries,
    runMs: run.ms,
    problems: problems.length ? problems.join(' | ') : 'none',
  });
  return run;
}
