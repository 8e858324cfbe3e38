// wsring-sim at scale: `plan` for 10M users on 1,000 nodes against a brute force that looks every user up in
// every ring (keeping each user's owner, so one lookup per user and step). Each run is its own process, so its
// peak RSS is its own. Run after a build: node bench/scale.js [users] [nodes]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const users = Number(process.argv[2] ?? 10_000_000);
const nodes = Number(process.argv[3] ?? 1000);
const here = fileURLToPath(new URL('..', import.meta.url));
const cli = `${here}dist/cli.js`;

function plan(change, workers) {
  const out = execFileSync(process.execPath, [cli, 'plan', '-n', String(nodes), '-u', String(users), ...change, '--json', '--workers', String(workers), '--no-progress'], { maxBuffer: 1 << 30 });
  const r = JSON.parse(out.toString());
  return { totalMs: r.timing.totalMs, usersMs: r.timing.usersMs, planMs: r.timing.planMs, peakRssMb: r.timing.peakRssMb, moved: r.totals.moved, steps: r.steps.length };
}

// The fleets of each change, as the brute force builds them (same ids, same order as the CLI's steps).
const FLEETS = {
  add: `[fleet.concat([0, 1, 2, 3].map((k) => ({ id: 'node-' + (nodes + k) })))]`,
  crash: `[fleet.filter((n) => n.id !== 'node-3')]`,
  deploy: `[0, 1, 2, 3, 4].flatMap((k) => [fleet.filter((n) => n.id !== 'node-' + k), fleet])`,
};

function brute(change) {
  const code = `
    import { createRing } from '@wsring/ring';
    const users = ${users}, nodes = ${nodes};
    const t0 = performance.now();
    const fleet = Array.from({ length: nodes }, (_, i) => ({ id: 'node-' + i }));
    const index = new Map();
    const at = (id) => { let i = index.get(id); if (i === undefined) index.set(id, (i = index.size)); return i; };
    let ring = await createRing(fleet);
    const owner = new Uint16Array(users);
    const hash = new Uint32Array(users);
    const load = new Float64Array(nodes + 8);
    for (let u = 0; u < users; u++) { hash[u] = ring.hashKey('user-' + u); const o = at(ring.ownerOfHash(hash[u])); owner[u] = o; load[o]++; }
    let moved = 0;
    for (const next of ${FLEETS[change]}) {
      ring = await createRing(next);
      for (let u = 0; u < users; u++) { const o = at(ring.ownerOfHash(hash[u])); if (o !== owner[u]) { load[owner[u]]--; load[o]++; owner[u] = o; moved++; } }
    }
    console.log(JSON.stringify({ totalMs: performance.now() - t0, moved, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: here }).toString());
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`wsring-sim plan, ${users.toLocaleString('en-US')} users on ${nodes.toLocaleString('en-US')} nodes, ring (${process.arch}, Node ${process.version})\n`);
const rows = [];
for (const [name, args, key] of [
  ['+4 nodes', ['--add', '4'], 'add'],
  ['crash 1 node', ['--crash', 'node-3'], 'crash'],
  ['deploy 5 nodes (10 steps)', ['--scenario', `${here}bench/deploy-5.yaml`, '-n', String(nodes), '-u', String(users)], 'deploy'],
]) {
  const b = brute(key);
  for (const workers of [1, 2]) {
    const r = plan(args, workers);
    if (r.moved !== b.moved) throw new Error(`${name}: wsring-sim counts ${r.moved} moved, the brute force ${b.moved}`);
    rows.push([name, `wsring-sim, ${workers} thread${workers > 1 ? 's' : ''}`, s(r.totalMs), s(r.usersMs), s(r.planMs), `${r.peakRssMb} MB`, `${(b.totalMs / r.totalMs).toFixed(2)}x`]);
  }
  rows.push([name, 'brute force, lookups per user', s(b.totalMs), '', '', `${b.peakRssMb} MB`, '1.00x']);
}
const header = ['change', 'how', 'total', 'hashing', 'placement', 'peak RSS', 'speed vs brute'];
const width = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
console.log([line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n'));
console.log('\nhashing: generating and hashing the ids, and sorting the hashes; placement: rings, diffs and counts.');
console.log('Every wsring-sim figure above was checked equal to the brute force count of moved users.');
