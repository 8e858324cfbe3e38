// What the rebalance benchmark reads from the running fleet and the machine: the agreed ring, agent counters,
// and the kernel's listen-queue overflows.
import { readFileSync } from 'node:fs';
import { loadRing } from '@wsring/ring';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll every agent's /topology until all serve a ring of `size` nodes with one fingerprint; return that ring. */
export async function fleetRing(agents, size, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const bodies = await Promise.all(agents.map((a) => fetch(`${a.httpUrl}/topology`).then((r) => r.json())));
    const prints = new Set(bodies.map((b) => b.fingerprint));
    if (prints.size === 1 && bodies[0].ring.nodes.length === size) return loadRing(bodies[0].ring);
    if (Date.now() > until) throw new Error(`agents did not agree on a ${size}-node ring within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A counter's value from an agent's /metrics (Prometheus text), summed over its label sets. */
async function counter(agent, name) {
  const text = await fetch(`${agent.httpUrl}/metrics`).then((r) => r.text());
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** A counter summed over agents. */
export async function fleetCounter(agents, name) {
  return (await Promise.all(agents.map((a) => counter(a, name)))).reduce((x, y) => x + y, 0);
}

/**
 * Connections the kernel dropped because a listen queue was full (TcpExt ListenOverflows), machine-wide: a
 * server process too busy to accept shows up here first. NaN where /proc/net/netstat does not exist.
 */
export function listenOverflows() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}

/** Resident memory of another process in bytes, from /proc (NaN where that does not exist). */
export function processRss(pid) {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * While running: every `everyMs`, each agent's own measured peak of arrivals in one second (/healthz
 * `arrivals.peakPerSec`, a window of the last ten seconds, so polling every 2 s misses nothing). `stop()`
 * returns node id -> the highest peak seen. `agents()` lists { id, httpUrl } to poll (it may change meanwhile).
 */
export function watchArrivalPeaks(agents, everyMs = 2_000) {
  const peaks = new Map();
  // The admission gate's overflow counter per agent, first and last reading: users let through past the gate's wait.
  const overflowed = new Map();
  const poll = async () => {
    await Promise.all(
      agents().map(async (a) => {
        try {
          const h = await fetch(`${a.httpUrl}/healthz`, { signal: AbortSignal.timeout(1_500) }).then((r) => r.json());
          const peak = h.arrivals?.peakPerSec ?? 0;
          peaks.set(a.id, Math.max(peaks.get(a.id) ?? 0, peak));
          const o = h.admissionGate?.overflowed ?? 0;
          overflowed.set(a.id, { first: overflowed.get(a.id)?.first ?? o, last: o });
        } catch {
          // Gone (drained or handed off) or too busy to answer this time: its next answer covers the window.
        }
      }),
    );
  };
  void poll();
  const timer = setInterval(poll, everyMs);
  return {
    /** Each agent's highest arrivals.peakPerSec seen; `gateOverflows` on it: users its gate let through past the wait. */
    async stop() {
      clearInterval(timer);
      await poll();
      peaks.gateOverflows = [...overflowed.values()].reduce((n, o) => n + o.last - o.first, 0);
      return peaks;
    },
  };
}
