import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from '../types.js';
import { DeliveryError } from './errors.js';
import { LiveFeed } from './feed.js';
import { resolveDeliveryOptions, type DeliveryOptions, type ResolvedDeliveryOptions } from './options.js';
import { StreamPublisher } from './publisher.js';
import { ensureStream } from './stream.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * An agent's delivery: the stream (created or brought to these options at start), a publisher, and the live
 * feed for its connections. When NATS comes back after an outage, the stream is ensured again (a fresh server
 * may have lost it) and every connection catches up from the stream.
 */
export class Delivery {
  private stopped = false;

  private constructor(
    private readonly nc: NatsConnection,
    readonly options: ResolvedDeliveryOptions,
    readonly publisher: StreamPublisher,
    readonly feed: LiveFeed,
    private readonly logger: Logger,
    private readonly enforceReplicas: boolean,
  ) {}

  static async start(nc: NatsConnection, options: DeliveryOptions | undefined, logger: Logger): Promise<Delivery> {
    const o = resolveDeliveryOptions(options);
    const jsm = await jetstreamManager(nc, { timeout: o.publishTimeoutMs });
    try {
      await ensureStream(jsm, o, 'update', options?.replicas !== undefined);
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw new DeliveryError('STORE_UNAVAILABLE', `cannot open stream ${o.stream}: ${(err as Error).message}`, { cause: err });
    }
    const d = new Delivery(nc, o, new StreamPublisher(nc, o), new LiveFeed(nc, jsm, o, logger), logger, options?.replicas !== undefined);
    void d.followStatus(jsm);
    return d;
  }

  private async followStatus(jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.stopped) return;
      if (s.type === 'disconnect') this.feed.disconnected();
      if (s.type !== 'reconnect') continue;
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          await ensureStream(jsm, this.options, 'update', this.enforceReplicas);
          break;
        } catch (err) {
          this.logger.warn({ err: String(err), attempt }, 'delivery stream not available yet');
          await sleep(Math.min(2_000, 100 * 2 ** attempt));
        }
      }
      this.logger.info({ connections: this.feed.size }, 'NATS back: every connection catches up from the stream');
      this.feed.resyncAll();
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.feed.close();
    await this.publisher.close();
  }
}
