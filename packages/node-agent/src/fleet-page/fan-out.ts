// One request to every agent of the fleet, answers collected until each expected member has answered or the
// deadline passes, whichever comes first. Core NATS only: nothing is stored, nothing changes.
import { createInbox, type NatsConnection } from '@nats-io/transport-node';

export interface FanOutResult<T> {
  /** Answers by node id (the first one of each node). */
  answers: Map<string, T>;
  /** From sending to the last answer awaited (or the deadline). */
  elapsedMs: number;
  /** Whether the deadline ended the wait (some expected member did not answer). */
  timedOut: boolean;
}

export async function fanOut<T>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  o: { expected: ReadonlySet<string>; deadlineMs: number; nodeOf: (answer: T) => string | undefined },
): Promise<FanOutResult<T>> {
  const answers = new Map<string, T>();
  const inbox = createInbox();
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve({ answers, elapsedMs: performance.now() - started, timedOut });
    };
    const complete = () => [...o.expected].every((id) => answers.has(id));
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err || done) return;
        let answer: T;
        try {
          answer = JSON.parse(msg.string()) as T;
        } catch {
          return;
        }
        const node = o.nodeOf(answer);
        if (node === undefined || answers.has(node)) return;
        answers.set(node, answer);
        if (o.expected.size > 0 && complete()) finish(false);
      },
    });
    const timer = setTimeout(() => finish(true), o.deadlineMs);
    try {
      nc.publish(subject, JSON.stringify(body), { reply: inbox });
    } catch {
      finish(true);
    }
  });
}
