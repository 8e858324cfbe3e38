// Opt-in probe for the delivery benchmark (`--probe`): preloaded into a Node process (`node --import
// bench/lib/loop-probe.js`, or NODE_OPTIONS for child processes), it samples the process's own event-loop delay and
// CPU time every PROBE_MS and appends them to `$WSRING_PROBE_DIR/<name>-<pid>.jsonl`, so the bench can line up,
// after the run, which process stalled and when. Nothing in the agent changes: without the preload nothing runs.
//   line: { t: wall ms, gap: time since the previous sample (ms; PROBE_MS when the loop is free), max: longest
//   loop delay in the interval (ms), cpu: user+system CPU in the interval (ms) }
// With WSRING_PROBE_CPU=<regular expression> it also CPU-profiles the processes whose name matches (agent-a1,
// delivery-receivers, ...) while `$WSRING_PROBE_DIR/profiling` exists (the bench creates it from the joiner's
// start to the end of the rebalance window; starting a profiler stalls a process for a moment), into `<name>-<pid>.cpuprofile` (Chrome DevTools, or `--cpu-prof`'s format).
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.WSRING_PROBE_DIR;
const PROBE_MS = Number(process.env.WSRING_PROBE_MS ?? 20);
if (dir) {
  // Agents are `node dist/cli.js --id a1 ...`; receivers and the bench name themselves by their script.
  const idAt = process.argv.indexOf('--id');
  const name = idAt > 0 ? `agent-${process.argv[idAt + 1]}` : (process.argv[1] ?? 'node').split('/').pop().replace(/\.js$/, '');
  const file = join(dir, `${name}-${process.pid}.jsonl`);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let cpu = process.cpuUsage();
  let lines = [];
  const profiled = process.env.WSRING_PROBE_CPU !== undefined && new RegExp(process.env.WSRING_PROBE_CPU).test(name);
  let last = performance.now();
  let session;
  let checks = 0;
  const profile = () => {
    const want = existsSync(join(dir, 'profiling'));
    if (want && !session) {
      session = new Session();
      session.connect();
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
    } else if (!want && session) {
      const s = session;
      session = undefined;
      s.post('Profiler.stop', (err, res) => {
        if (!err) writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
        s.disconnect();
      });
    }
  };
  const flush = () => {
    if (lines.length === 0) return;
    try {
      appendFileSync(file, lines.join('\n') + '\n');
    } catch {}
    lines = [];
  };
  const timer = setInterval(() => {
    const now = process.cpuUsage();
    const at = performance.now();
    if (profiled && ++checks % 5 === 0) profile();
    lines.push(JSON.stringify({ t: Math.round(performance.timeOrigin + at), gap: Math.round(at - last), max: Math.round(h.max / 1e4) / 100, cpu: Math.round((now.user - cpu.user + now.system - cpu.system) / 100) / 10 }));
    cpu = now;
    last = at;
    h.reset();
    // Written in batches (a write per sample would be work of its own); a process killed with SIGKILL loses < 0.5 s.
    if (lines.length >= 25) flush();
  }, PROBE_MS);
  timer.unref();
  process.on('exit', flush);
}
