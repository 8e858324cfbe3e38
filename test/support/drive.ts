// Driving agents (and clients) that run on a ManualClock while their sockets are real: time moves only in
// small steps, and between steps the event loop turns, so socket and HTTP events (all in this process, over
// loopback) are handled before time moves on. No real time is waited on, except as an upper bound that
// only fails a hung test.
import type { ManualClock } from './manual-clock.js';

/** One turn of the event loop: pending I/O callbacks run, then every promise continuation. No real time is waited on. */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

export interface DriveOptions {
  /** Simulated time per step. Default 10 ms. */
  stepMs?: number;
  /** Event-loop turns between steps. Default 4. */
  turnsPerStep?: number;
  /** Simulated time after which to give up. Default 30 s. */
  maxMs?: number;
  /** Real time after which to give up: only a hung test reaches it. Default 30 s. */
  realTimeoutMs?: number;
  what?: string | (() => string);
}

/**
 * Until `done()` holds: check it; if not, move `clock` one step (letting promise continuations run between
 * its timers), then give the sockets `turnsPerStep` event-loop turns. Resolves with the simulated time it
 * took; rejects after `maxMs` of simulated time or `realTimeoutMs` of real time.
 */
export async function driveUntil(clock: ManualClock, done: () => boolean | Promise<boolean>, options: DriveOptions = {}): Promise<number> {
  const { stepMs = 10, turnsPerStep = 4, maxMs = 30_000, realTimeoutMs = 30_000, what = 'the condition' } = options;
  const start = clock.now();
  const realDeadline = performance.now() + realTimeoutMs;
  for (;;) {
    if (await done()) return clock.now() - start;
    const describe = () => (typeof what === 'string' ? what : what());
    if (clock.now() - start >= maxMs) throw new Error(`${describe()}: not within ${maxMs} ms of simulated time`);
    if (performance.now() > realDeadline) throw new Error(`${describe()}: not within ${realTimeoutMs} ms of real time (at ${clock.now() - start} ms of simulated time)`);
    await clock.advanceAsync(stepMs);
    await turns(turnsPerStep);
  }
}

/** Let `ms` of simulated time pass in steps, the sockets getting event-loop turns between steps. */
export async function pass(clock: ManualClock, ms: number, options: Pick<DriveOptions, 'stepMs' | 'turnsPerStep'> = {}): Promise<void> {
  const { stepMs = 10, turnsPerStep = 4 } = options;
  const until = clock.now() + ms;
  while (clock.now() < until) {
    await clock.advanceAsync(Math.min(stepMs, until - clock.now()));
    await turns(turnsPerStep);
  }
}
