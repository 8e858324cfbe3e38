// Issue 10, the one fault that is not the store's: an agent cut off from NATS (iptables DROP between its host and
// every server) for longer than the liveness timeout, while its clients still reach it. The fleet must treat it as
// gone: its users fail over, each exactly once, and nobody else moves; when the cut heals it rejoins cleanly: back
// in everyone's ring, its users back on it, epochs never going backwards, no message lost or duplicated.
import { partition } from '@wsring/node-agent/testing';
import { describe, expect, it } from 'vitest';
import { waitForAgreement, waitUntil, type TrackedClient } from '../integration/support.js';
import { faultsEnabled, netns } from './environment.js';
import { report } from './figures.js';
import { throughFault, waitForRecovery } from './through-fault.js';
import { LIVENESS_MS, Testbed } from './testbed.js';

/** The cut lasts at least this long, and at most until the fail-over is done or FAILOVER_DEADLINE_MS passed. */
const MIN_PARTITION_MS = 3 * LIVENESS_MS;
const FAILOVER_DEADLINE_MS = 20_000;

const movesAwayFrom = (c: TrackedClient, node: string) => (c.events.moved ?? []).filter((m) => m.from === node).length;

describe.runIf(faultsEnabled)('an agent cut off from NATS', () => {
  it.runIf(netns.available)(
    'for longer than the liveness timeout: its users fail over exactly once, and it rejoins cleanly',
    async () => {
      const bed = await Testbed.start({ namespaces: true });
      try {
        const victim = bed.agent('a1');
        const all = bed.agents.map((a) => a.id).sort().join(',');
        const withoutVictim = bed.agents.filter((a) => a !== victim).map((a) => a.id).sort().join(',');
        const orphans = bed.clients.filter((c) => c.client.node === victim.id);
        const others = bed.clients.filter((c) => c.client.node !== victim.id);
        let movesAtHeal: number[] = [];
        const run = await throughFault(
          bed,
          `agent ${victim.id} cut off from NATS`,
          async () => {
            const cut = await partition(bed.nsHost(victim.id), bed.cluster.servers.map((s) => s.host));
            const started = performance.now();
            const since = () => Math.round(performance.now() - started);
            let failoverMs: number | string = 'not within the deadline';
            let droppedFromRingMs: number | string = 'not within the deadline';
            try {
              await Promise.all([
                waitUntil(() => orphans.every((c) => c.client.state === 'open' && c.client.node !== victim.id), FAILOVER_DEADLINE_MS, 'its users to fail over').then(
                  () => (failoverMs = since()),
                  () => {},
                ),
                waitForAgreement(bed.agents.filter((a) => a !== victim), 3, FAILOVER_DEADLINE_MS).then(
                  () => (droppedFromRingMs = since()),
                  () => {},
                ),
              ]);
              // Longer than the liveness timeout in any case: the fault is defined by its length.
              if (since() < MIN_PARTITION_MS) await new Promise((r) => setTimeout(r, MIN_PARTITION_MS - since()));
            } finally {
              movesAtHeal = orphans.map((c) => movesAwayFrom(c, victim.id));
              await cut.heal();
            }
            return { victim: victim.id, itsUsers: orphans.length, failoverMs, droppedFromRingMs, partitionMs: since() };
          },
          async () => {
            // Rejoined: the four-node ring on every agent, every agent with its store, and everyone on its owner.
            await waitForAgreement(bed.agents, bed.agents.length, 40_000);
            await waitForRecovery(bed);
            const { ring } = await waitForAgreement(bed.agents, bed.agents.length);
            await waitUntil(() => bed.clients.every((c) => c.client.state === 'open' && c.client.node === ring.owner(c.user)), 30_000, 'every client on its owner');
          },
        );
        const final = await waitForAgreement(bed.agents, bed.agents.length).catch(() => undefined);
        const figures = {
          itsUsersFailedOverOnce: movesAtHeal.filter((m) => m === 1).length,
          itsUsersNotFailedOver: movesAtHeal.filter((m) => m === 0).length,
          itsUsersMovedAwayMoreThanOnce: orphans.filter((c) => movesAwayFrom(c, victim.id) > 1).length,
          itsUsersBackOnIt: orphans.filter((c) => c.client.node === victim.id).length,
          othersDropped: run.mark.figures(others).dropped,
          othersReconnectFrames: run.mark.figures(others).reconnectFrames,
          memberSets: run.placement.memberSets.map((m) => `{${m}}`),
          epochRegressions: run.placement.epochRegressions,
          finalRing: final ? final.topology.ring.nodes.map((n) => n.id).sort().join(',') : 'no agreement',
          lost: run.delivery.lost,
          duplicated: run.delivery.duplicated,
        };
        report(`agent ${victim.id} cut off from NATS, verdict`, figures);
        expect(orphans.length).toBeGreaterThan(0);
        expect({ ...figures, problems: run.problems }).toEqual({
          itsUsersFailedOverOnce: orphans.length,
          itsUsersNotFailedOver: 0,
          itsUsersMovedAwayMoreThanOnce: 0,
          itsUsersBackOnIt: orphans.length,
          othersDropped: 0,
          othersReconnectFrames: 0,
          // The fleet without it while it was away, and with it again after: no third ring, no empty one.
          memberSets: expect.arrayContaining([`{${all}}`]),
          epochRegressions: 0,
          finalRing: all,
          lost: 0,
          duplicated: 0,
          problems: [],
        });
        expect(run.placement.memberSets.every((s) => s === all || s === withoutVictim)).toBe(true);
      } finally {
        await bed.stop();
      }
    },
    150_000,
  );
});
