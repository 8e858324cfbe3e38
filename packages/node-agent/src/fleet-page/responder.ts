// Every agent with a NATS connection answers the fleet's read-only requests: its status (for the fleet page of
// whichever agent an operator looks at) and previews of a change (from the page or `wsring-sim plan --fleet`).
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../types.js';
import { PreviewError } from './change.js';
import { parsePreviewRequest, type PreviewAnswer, type PreviewRequest } from './preview-answer.js';
import { FLEET_PROTOCOL, previewSubject, statusSubject } from './subjects.js';

export interface ResponderHandlers {
  status(): unknown;
  preview(req: PreviewRequest): Promise<PreviewAnswer>;
}

export class FleetResponder {
  private readonly subs: Subscription[] = [];
  /** Previews run one at a time: each builds a ring, and a burst of requests must not stall the agent. */
  private previews: Promise<void> = Promise.resolve();
  private queuedPreviews = 0;

  constructor(nc: NatsConnection, bucket: string, private readonly self: string, private readonly handlers: ResponderHandlers, private readonly logger: Logger) {
    this.subs.push(
      nc.subscribe(statusSubject(bucket), {
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          try {
            msg.respond(JSON.stringify(this.handlers.status()));
          } catch (e) {
            this.logger.warn({ err: String(e) }, 'fleet status answer failed');
          }
        },
      }),
      nc.subscribe(previewSubject(bucket), {
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          let req: PreviewRequest;
          try {
            req = parsePreviewRequest(JSON.parse(msg.string()));
          } catch (e) {
            msg.respond(JSON.stringify({ v: FLEET_PROTOCOL, node: this.self, error: e instanceof PreviewError ? e.message : 'malformed preview request' }));
            return;
          }
          if (this.queuedPreviews >= 8) {
            msg.respond(JSON.stringify({ v: FLEET_PROTOCOL, node: this.self, error: 'busy: too many previews queued' }));
            return;
          }
          this.queuedPreviews++;
          this.previews = this.previews.then(async () => {
            try {
              msg.respond(JSON.stringify(await this.handlers.preview(req)));
            } catch (e) {
              this.logger.warn({ err: String(e) }, 'fleet preview answer failed');
            } finally {
              this.queuedPreviews--;
            }
          });
        },
      }),
    );
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }
}
