// Child-process side of `startDelayRelays`: runs the relays on an event loop of their own, so the latency they add
// is the one asked for and not whatever the test process's own work (hundreds of sockets) adds on top.
//   parent -> { type: 'start', relays: [{ listen, target }] }   child -> { type: 'started', ports: number[] }
//   parent -> { type: 'delay', ms }                             child -> { type: 'delayed', ms }
import { startDelayRelay, type DelayRelay } from './delay-relay.js';

type Request = { type: 'start'; relays: { listen: { host: string; port?: number }; target: { host: string; port: number } }[] } | { type: 'delay'; ms: number };

const relays: DelayRelay[] = [];

process.on('message', (m: Request) => {
  if (m.type === 'start') {
    Promise.all(m.relays.map((r) => startDelayRelay(r))).then(
      (started) => {
        relays.push(...started);
        process.send!({ type: 'started', ports: started.map((r) => r.port) });
      },
      (err: Error) => process.send!({ type: 'error', message: err.message }),
    );
  } else if (m.type === 'delay') {
    for (const r of relays) r.delayMs = m.ms;
    process.send!({ type: 'delayed', ms: m.ms });
  }
});
// The parent went away: so do the relays.
process.on('disconnect', () => process.exit(0));
