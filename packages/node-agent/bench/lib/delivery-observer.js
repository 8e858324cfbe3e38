// Observer of the delivery benchmark's `--probe` runs, in its own process:
// - one core NATS subscription on `<livePrefix>.>`: when nats-server hands each republished message out (the same
//   moment it hands it to the agent holding the user), as [publish time (wall ms), latency (µs)];
// - CPU time of the given processes (nats-server above all, which runs no probe) and of the whole machine, from
//   /proc, every PROBE_MS: { t: wall ms, by: { pid: CPU ms in the interval }, machine: busy CPU ms of all cores }.
// Driven over IPC: start { nats, prefix, pids } -> ready; pids { pids }; window { on } (record or not); report -> report { messages, cpu }.
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';

const PROBE_MS = Number(process.env.WSRING_PROBE_MS ?? 20);
const TICK_MS = 10; // USER_HZ 100
const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const messages = [];
const cpu = [];
let on = false;
let nc;
let pids = [];

const procTicks = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return NaN;
  }
};
const machineTicks = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return f.reduce((a, b) => a + b, 0) - idle;
};

let last;
const sample = () => {
  const now = [...pids.map(procTicks), machineTicks()];
  if (on && last && last.length === now.length) {
    const by = Object.fromEntries(pids.map((pid, i) => [pid, (now[i] - last[i]) * TICK_MS]));
    cpu.push({ t: Math.round(performance.timeOrigin + performance.now()), by, machine: (now[now.length - 1] - last[last.length - 1]) * TICK_MS });
  }
  last = now;
};

process.on('message', async (m) => {
  try {
    if (m.type === 'start') {
      pids = m.pids;
      nc = await connect({ servers: m.nats });
      const decoder = new TextDecoder();
      nc.subscribe(`${m.prefix}.>`, {
        callback: (_err, msg) => {
          if (!on) return;
          const t = JSON.parse(decoder.decode(msg.data)).t;
          if (typeof t === 'number') messages.push([Math.round(t / 1000), Math.max(1, nowMicros() - t)]);
        },
      });
      await nc.flush();
      setInterval(sample, PROBE_MS);
      process.send({ type: 'ready' });
    } else if (m.type === 'pids') {
      pids = m.pids;
      last = undefined;
    }
    else if (m.type === 'window') on = m.on;
    else if (m.type === 'report') process.send({ type: 'report', messages, cpu });
    else if (m.type === 'stop') {
      await nc?.close();
      process.exit(0);
    }
  } catch (err) {
    process.send({ type: 'failed', error: String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
