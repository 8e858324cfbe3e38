/** A store step did not finish within its deadline (or was overtaken by a reconnect). */
export class StepTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepTimeoutError';
  }
}

/**
 * `work`, or a StepTimeoutError after `ms`. The work cannot be cancelled: if it finishes after the deadline,
 * `discard` receives its result (to close a watch nobody will read, for example).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, discard?: (late: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new StepTimeoutError(`${what}: no answer within ${ms} ms`));
    }, ms);
    timer.unref();
    work.then(
      (value) => {
        if (!expired) {
          clearTimeout(timer);
          resolve(value);
        } else discard?.(value);
      },
      (err: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
