/**
 * Shares one run of an async operation among every caller that asked before it started, and never hands a
 * caller the result of a run that started before it asked (so a state read is always fresh enough for the
 * caller). At most one run is in flight and one waits, however many callers there are.
 */
export class Coalesced<T> {
  private queued: Promise<T> | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly run: () => Promise<T>) {}

  next(): Promise<T> {
    this.queued ??= (async () => {
      await this.running?.catch(() => {});
      // Callers from here on wait for the run after this one.
      this.queued = undefined;
      const result = this.run();
      this.running = result;
      return result;
    })();
    return this.queued;
  }
}
