// wsring-sim at scale: plan 10M users on 1,000 nodes, on 1 and 2 threads, against a per-user brute force over the
// same hashes (look every user up in both rings, what movedKeys does), each in its own process for a clean peak RSS.
// Run after a build: node bench/scale.js [users] [nodes]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const users = Number(process.argv[2] ?? 10_000_000);
const nodes = Number(process.argv[3] ?? 1000);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function plan(algorithm, workers, change) {
  const out = execFileSync(process.execPath, [cli, 'plan', '-n', String(nodes), '-u', String(users), '-a', algorithm, ...change, '--json', '--workers', String(workers), '--no-progress'], { maxBuffer: 1 << 30 });
  const r = JSON.parse(out.toString());
  return { ...r.timing, moved: r.totals.moved };
}

function brute(change) {
  const code = `
    import { createRing } from '@wsring/ring';
    const users = ${users}, nodes = ${nodes};
    const t0 = performance.now();
    const before = await createRing(Array.from({ length: nodes }, (_, i) => ({ id: 'node-' + i })));
    const after = ${change === 'add' ? "before.withNodes([1,2,3,4].map((k) => ({ id: 'node-' + (nodes + k - 1) })))" : "before.withoutNodes(['node-3'])"};
    let moved = 0;
    for (let i = 0; i < users; i++) { const h = before.hashKey('user-' + i); if (before.ownerOfHash(h) !== after.ownerOfHash(h)) moved++; }
    console.log(JSON.stringify({ totalMs: performance.now() - t0, moved, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
  return JSON.parse(out.toString());
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`wsring-sim plan: ${users.toLocaleString('en-US')} users on ${nodes.toLocaleString('en-US')} nodes (${process.arch}, ${process.version})\n`);
const rows = [];
for (const [name, change, bruteChange] of [['+4 nodes', ['--add', '4'], 'add'], ['crash 1 node', ['--crash', 'node-3'], 'crash']]) {
  const base = brute(bruteChange);
  for (const algorithm of ['ring', 'maglev']) {
    for (const workers of [1, 2]) {
      const r = plan(algorithm, workers, change);
      if (algorithm === 'ring' && r.moved !== base.moved) throw new Error(`moved ${r.moved} but the brute force counts ${base.moved}`);
      rows.push([name, algorithm, `wsring-sim, ${workers} thread${workers > 1 ? 's' : ''}`, fmt(r.totalMs), fmt(r.usersMs), fmt(r.planMs), `${r.peakRssMb} MB`, `${(base.totalMs / r.totalMs).toFixed(2)}x`]);
    }
  }
  rows.push([name, 'ring', 'brute force, per-user lookups', fmt(base.totalMs), '', '', `${base.peakRssMb} MB`, '1.00x']);
}
const header = ['change', 'algorithm', 'how', 'total', 'hashing', 'placement', 'peak RSS', 'vs brute force'];
const width = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r) => r.map((c, i) => (i < 3 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
console.log([line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n'));
console.log('\nvs brute force: how many times faster than looking every user up in both rings (higher is better).');
