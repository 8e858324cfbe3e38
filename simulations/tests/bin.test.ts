// The installed command, bin/wsring-sim.js as `npx wsring-sim` runs it (after a build, as `npm test` does).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/command.js';

const cli = fileURLToPath(new URL('../bin/wsring-sim.js', import.meta.url));

function runBin(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('wsring-sim binary', () => {
  it('prints the same plan as the library entry, and progress only on stderr when asked', async () => {
    const args = ['plan', '--nodes', '6', '--users', '50k', '--add', '1', '--no-timing'];
    let expected = '';
    await main(args, { stdout: (t) => (expected += t), stderr: () => {}, stderrIsTTY: false });
    const quiet = runBin(args);
    expect(quiet.code).toBe(0);
    expect(quiet.out).toBe(expected);
    expect(quiet.err).toBe('');
    const loud = runBin([...args, '--progress']);
    expect(loud.out).toBe(expected);
    expect(loud.err).toMatch(/hashing users/);
  });

  it('hashes on two worker threads with the same result as on one', () => {
    const args = ['plan', '--nodes', '20', '--users', '1.2M', '--add', '1', '--crash', 'node-4', '--json'];
    const one = JSON.parse(runBin([...args, '--workers', '1']).out);
    const two = JSON.parse(runBin([...args, '--workers', String(Math.min(2, availableParallelism()))]).out);
    expect(one.timing.workers).toBe(1);
    // Capped at the cores there are.
    expect(two.timing.workers).toBe(Math.min(2, availableParallelism()));
    expect(two.steps).toEqual(one.steps);
  });

  it('exits 2 with one line on bad input, 0 with --help', () => {
    const bad = runBin(['plan', '--drain', 'node-42']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toEqual(['wsring-sim: UNKNOWN_NODE: step 1 (drain node-42): no node "node-42" in the fleet']);
    const help = runBin(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/plan.*\n.*compare.*\n.*storm/s);
  });
});
