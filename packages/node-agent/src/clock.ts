/**
 * The agent's only source of time. Every timer and every reading of the agent's flow (registration,
 * liveness, settling, epoch agreement, pacing, grace closes, drain deadlines) goes through one, so tests
 * and the model drive the real code on a manual clock.
 */
export interface Clock {
  /**
   * Milliseconds since the Unix epoch, never going backwards. Durations are differences of two readings
   * of one clock; a member's `startedAt` is a reading too, so two incarnations of a node differ.
   */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Real time. `performance.timeOrigin + performance.now()` is monotonic (a wall-clock step does not move
 * it) yet near `Date.now()`. Timers are unref'd: a pending heartbeat never keeps a process alive.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Run `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const loop = () => {
    if (stopped) return;
    fn();
    if (!stopped) handle = clock.setTimeout(loop, ms);
  };
  handle = clock.setTimeout(loop, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}

/** `work` or a rejection with `error()` after `ms` on `clock`, whichever comes first. */
export function withClockDeadline<T>(clock: Clock, work: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let handle: unknown;
  const timeout = new Promise<never>((_, reject) => {
    handle = clock.setTimeout(() => reject(error()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clock.clearTimeout(handle));
}
