// A testbed shared by the tests of a suite as long as it stays as it was built: a fault that changed nothing
// leaves it ready for the next test (saving a cluster, four agents and hundreds of clients per test); one that
// broke something gets it replaced before the next test, so no test inherits another's damage.
import { afterAll } from 'vitest';
import { Testbed, type TestbedOptions } from './testbed.js';

export interface SharedTestbed {
  /**
   * A testbed at its baseline that also satisfies `want` (undefined: fine; a string: why not), built anew if the
   * current one is not.
   */
  acquire(want?: (bed: Testbed) => Promise<string | undefined>): Promise<Testbed>;
  /** Stop the current testbed now (before a test that needs one of another kind). */
  stop(): Promise<void>;
}

/** Call inside `describe`: the testbed is stopped after the suite. */
export function sharedTestbed(options: TestbedOptions): SharedTestbed {
  let current: Testbed | undefined;
  const stop = async () => {
    const bed = current;
    current = undefined;
    await bed?.stop();
  };
  afterAll(stop);
  return {
    stop,
    async acquire(want = async () => undefined) {
      if (current) {
        const problem = (await current.baselineProblem()) ?? (await want(current));
        if (problem === undefined) return current;
        console.log(`[faults] building a new testbed: ${problem}`);
        await stop();
      }
      current = await Testbed.start(options);
      const problem = await want(current);
      if (problem) throw new Error(`a new testbed does not fit: ${problem}`);
      return current;
    },
  };
}
