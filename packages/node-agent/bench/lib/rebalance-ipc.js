// Child processes of the rebalance benchmark, driven over IPC: fork, wait for a message type, kill on exit.
import { fork } from 'node:child_process';

const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Fork `file` and return a handle whose `next(type)` resolves with the next message of that type (messages that
 * arrive before anyone waits are queued). A `failed` message or an early exit rejects every wait.
 */
export function forkChild(file, args = [], { execArgv = [], name = file } = {}) {
  const child = fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  live.add(child);
  const queued = [];
  const waiters = [];
  let failure;
  const fail = (error) => {
    failure ??= error;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  child.on('message', (m) => {
    if (m.type === 'failed') return fail(new Error(`${name}: ${m.error}`));
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
    else queued.push(m);
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      fail(new Error(`${name} exited (${code ?? signal})`));
      resolve();
    });
  });
  return {
    pid: child.pid,
    send: (message) => child.send(message),
    next(type, timeoutMs = 60_000) {
      const i = queued.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queued.splice(i, 1)[0]);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          type,
          resolve: (m) => (clearTimeout(timer), resolve(m)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
      });
    },
    /** Ask politely, then SIGKILL after `graceMs`. */
    async stop(graceMs = 2_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
