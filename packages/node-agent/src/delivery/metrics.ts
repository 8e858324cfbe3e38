import { Counter, type Registry } from 'prom-client';
import type { Delivery } from './service.js';

/** A counter that reports a running total kept elsewhere (the feed's and publisher's stats). */
function mirror(registry: Registry, name: string, help: string, read: () => Record<string, number>, labelNames: string[] = []): void {
  const reported = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [label, value] of Object.entries(read())) {
        const delta = value - (reported.get(label) ?? 0);
        reported.set(label, value);
        if (delta <= 0) continue;
        if (labelNames.length) this.inc({ [labelNames[0]]: label }, delta);
        else this.inc(delta);
      }
    },
  });
}

/** Delivery's counters on the agent's /metrics. */
export function registerDeliveryMetrics(registry: Registry, delivery: Delivery): void {
  const { feed, publisher } = delivery;
  mirror(registry, 'wsring_delivery_messages_total', 'Logged messages sent to clients, by path', () => ({ live: feed.stats.live, replay: feed.stats.replayed }), ['path']);
  mirror(registry, 'wsring_delivery_duplicates_dropped_total', 'Live messages dropped because the connection already had them', () => ({ all: feed.stats.duplicatesDropped }));
  mirror(registry, 'wsring_delivery_gaps_total', 'Gap reports sent (messages lost to the retention window)', () => ({ all: feed.stats.gaps }));
  mirror(registry, 'wsring_delivery_repairs_total', 'Replays started because a live message named an unseen predecessor', () => ({ all: feed.stats.repairs }));
  mirror(registry, 'wsring_delivery_published_total', 'Messages this agent stored with agent.publish', () => ({ all: publisher.stats.stored }));
  mirror(registry, 'wsring_delivery_publish_retries_total', 'Publishes retried after another publisher wrote to the same user first', () => ({ all: publisher.stats.retries }));
}
