// The `--probe` report of the delivery benchmark: where the time of the rebalance window went, per process.
// Input: the receivers' raw messages ([publish wall ms, latency µs, moved 0/1] per phase, one list per client
// process: 0 and 1 hold the users that stay, 2 those that will move), the observer's view of nats-server's
// hand-out, /proc CPU samples, the probe files of every Node process (loop-probe.js) and the agents' log lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printTable } from './rebalance-format.js';

const BUCKET_MS = 100;

const pct = (values, p) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const f1 = (v) => (v === undefined ? '-' : v.toFixed(v >= 100 ? 0 : 1));

/** Probe samples per process name, from `<dir>/<name>-<pid>.jsonl`. */
function probeFiles(dir, names) {
  const byName = {};
  for (const file of readdirSync(dir)) {
    const m = /^(.*)-(\d+)\.jsonl$/.exec(file);
    if (!m) continue;
    const pid = Number(m[2]);
    const name = names.get(pid) ?? m[1];
    byName[name] = readFileSync(join(dir, file), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
  return byName;
}

export function printTimeline(probed) {
  const { marks, raw, observed, cpu, names, logs, dir } = probed;
  const zero = marks.rebalance;
  const from = marks.startup - 500;
  const to = marks.after;
  const rel = (t) => t - zero;

  // Latency by who the user is, not by whether a 'moved' event had come when the message arrived.
  const stay = [...(raw[0]?.rebalance ?? []), ...(raw[1]?.rebalance ?? [])];
  const movers = raw[2]?.rebalance ?? [];
  const ms = (list) => list.map((m) => m[1] / 1000);
  const row = (label, list) => [label, String(list.length), f1(pct(ms(list), 50)), f1(pct(ms(list), 99)), f1(Math.max(0, ...ms(list)))];
  const steadyStay = [...(raw[0]?.steady ?? []), ...(raw[1]?.steady ?? [])];
  const observedIn = observed.filter((m) => m[0] >= zero && m[0] < to);
  printTable('Probe: latency in the rebalance window by group (ms)', ['messages', 'count', 'p50', 'p99', 'max'], [
    row('steady state: users that stay (client processes 0, 1)', steadyStay),
    row('users that stay (client processes 0, 1)', stay),
    row('users that move, before their move (client process 2)', movers.filter((m) => m[2] === 0)),
    row('users that move, after it', movers.filter((m) => m[2] === 1)),
    row('previous classification of "stayed": no moved event yet, any process', [...stay, ...movers.filter((m) => m[2] === 0)]),
    ['nats-server hand-out to a core subscriber (observer)', String(observedIn.length), f1(pct(observedIn.map((m) => m[1] / 1000), 50)), f1(pct(observedIn.map((m) => m[1] / 1000), 99)), f1(Math.max(0, ...observedIn.map((m) => m[1] / 1000)))],
  ]);

  // For the timeline, the start-up phase too (the joiner's process starting).
  const stayAll = [...(raw[0]?.startup ?? []), ...stay, ...(raw[1]?.startup ?? [])];
  const moversAll = [...(raw[2]?.startup ?? []), ...movers];
  const probes = probeFiles(dir, names);
  const processes = ['publisher', 'agent a1', 'agent a2', 'agent a3', 'clients 0 (stay)', 'clients 1 (stay)', 'clients 2 (move)'].filter((n) => probes[n]);
  const pidOf = new Map([...names].map(([pid, name]) => [name, pid]));
  const buckets = [];
  for (let t = from; t < to; t += BUCKET_MS) {
    const inB = (x) => x >= t && x < t + BUCKET_MS;
    const maxOf = (list) => (list.length ? Math.max(...list) : undefined);
    const b = {
      at: rel(t),
      stayN: stayAll.filter((m) => inB(m[0])).length,
      stayMax: maxOf(stayAll.filter((m) => inB(m[0])).map((m) => m[1] / 1000)),
      preMax: maxOf(moversAll.filter((m) => m[2] === 0 && inB(m[0])).map((m) => m[1] / 1000)),
      obsMax: maxOf(observed.filter((m) => inB(m[0])).map((m) => m[1] / 1000)),
    };
    for (const name of processes) {
      const samples = probes[name].filter((s) => inB(s.t));
      // The longest stretch the loop did not run: a sample's own lateness, or a delay the histogram saw.
      b[`loop:${name}`] = maxOf(samples.map((s) => Math.max(s.max, (s.gap ?? 0) - 20)));
      b[`cpu:${name}`] = samples.length ? samples.reduce((n, s) => n + s.cpu, 0) : undefined;
    }
    const cs = cpu.filter((c) => inB(c.t));
    b['cpu:nats-server'] = cs.length ? cs.reduce((n, c) => n + (c.by[pidOf.get('nats-server')] ?? 0), 0) : undefined;
    b['cpu:machine'] = cs.length ? cs.reduce((n, c) => n + c.machine, 0) : undefined;
    buckets.push(b);
  }
  // Per process over the window itself (joiner listening to the end): its longest stall and its share of a core.
  const windowMs = to - zero;
  const summary = processes.map((name) => {
    const samples = probes[name].filter((x) => x.t >= zero && x.t < to);
    const stall = Math.max(0, ...samples.map((x) => Math.max(x.max, (x.gap ?? 0) - 20)));
    const cpuMs = samples.reduce((n, x) => n + x.cpu, 0);
    return [name, f1(stall), `${Math.round((100 * cpuMs) / windowMs)}%`];
  });
  const natsPid = pidOf.get('nats-server');
  const inWindow = cpu.filter((c) => c.t >= zero && c.t < to);
  summary.push(['nats-server (from /proc)', '-', `${Math.round((100 * inWindow.reduce((n, c) => n + (c.by[natsPid] ?? 0), 0)) / windowMs)}%`]);
  summary.push(['whole machine (from /proc, 2 cores = 200%)', '-', `${Math.round((100 * inWindow.reduce((n, c) => n + c.machine, 0)) / windowMs)}%`]);
  printTable(`Probe: per process over the rebalance window (${(windowMs / 1000).toFixed(1)} s)`, ['process', 'longest loop stall ms', 'CPU (100% = one core)'], summary);
  const short = (n) => n.replace('agent ', '').replace(/clients (\d).*/, 'c$1').replace('publisher', 'pub');
  printTable(
    `Probe: timeline, ${BUCKET_MS} ms buckets from the joiner listening (t=0; by publish time). Latency max (ms): users that stay, movers before their move, nats-server hand-out. Loop delay max (ms; a stall is counted in the bucket where it ends) and CPU (ms per ${BUCKET_MS} ms) per process; machine = all cores (2 cores: 200)`,
    ['t ms', 'stay n', 'stay', 'pre', 'nats', ...processes.map((n) => `loop ${short(n)}`), ...processes.map((n) => `cpu ${short(n)}`), 'cpu nats', 'cpu all'],
    buckets.map((b) => [String(b.at), String(b.stayN), f1(b.stayMax), f1(b.preMax), f1(b.obsMax), ...processes.map((n) => f1(b[`loop:${n}`])), ...processes.map((n) => f1(b[`cpu:${n}`])), f1(b['cpu:nats-server']), f1(b['cpu:machine'])]),
  );
  const worst = [...stay.map((m) => [...m, 'stay']), ...movers.map((m) => [...m, m[2] ? 'moved' : 'pre-move'])].sort((a, b) => b[1] - a[1]).slice(0, 12);
  printTable('Probe: slowest messages of the window', ['published at t ms', 'latency ms', 'who'], worst.map((m) => [String(rel(m[0])), f1(m[1] / 1000), m[3]]));
  console.log(`\nProbe: agent events (t ms): ${logs.map((l) => `${l.agent} ${l.event ?? l.msg} ${l.time ? rel(l.time) : '?'}${l.moved !== undefined ? ` moved=${l.moved}` : ''}${l.sent !== undefined ? ` sent=${l.sent}` : ''}`).join('; ')}`);
  const ratio = pct(ms(stay), 99) / pct(ms(steadyStay), 99);
  console.log(`Probe: users that stay, p99 in the window against steady state: ${f1(pct(ms(stay), 99))} ms / ${f1(pct(ms(steadyStay), 99))} ms = ${ratio.toFixed(2)}x`);
  console.log(`Probe files: ${dir}`);
}
