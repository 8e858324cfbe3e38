// Issue 15, bugs: every error is one line and exit code 2; degenerate inputs are refused, not reported as NaN.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'wsring-sim-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exit 2, nothing on stdout, exactly one line on stderr in the documented shape. */
async function oneLineError(argv: string[], pattern: RegExp): Promise<void> {
  const r = await runCli(argv);
  expect(r.code, argv.join(' ')).toBe(2);
  expect(r.out).toBe('');
  const lines = r.err.split('\n');
  expect(lines.at(-1)).toBe('');
  expect(lines.length, r.err).toBe(2);
  expect(lines[0]).toMatch(/^wsring-sim: [A-Z_]+: /);
  expect(lines[0]).toMatch(pattern);
}

describe('errors are one line and exit 2', () => {
  it('an HTML report that cannot be written', async () => {
    await oneLineError(['plan', '--nodes', '3', '--users', '100', '--add', '1', '--html', '/nonexistent/dir/r.html'], /OUTPUT_FILE: .*\/nonexistent\/dir\/r\.html/);
  });

  it('no users to place', async () => {
    await oneLineError(['plan', '--users', '0', '--add', '1'], /INVALID_OPTION: .*users/);
    await oneLineError(['storm', '--users', '0', '--add', '1'], /INVALID_OPTION: .*users/);
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n  \n');
    await oneLineError(['plan', '--users-file', empty, '--add', '1'], /USERS_FILE: .*no user/);
  });

  it('--workers outside 1 .. the cores', async () => {
    await oneLineError(['plan', '--users', '100', '--add', '1', '--workers', '0'], /USAGE: .*--workers/);
    await oneLineError(['plan', '--users', '100', '--add', '1', '--workers', String(availableParallelism() + 1)], /USAGE: .*--workers/);
    await oneLineError(['plan', '--users', '100', '--add', '1', '--workers', '1.5'], /USAGE: .*--workers/);
  });

  it('a node named twice in one step', async () => {
    await oneLineError(['plan', '--users', '100', '--remove', 'node-3,node-3'], /DUPLICATE_NODE: .*node-3/);
    await oneLineError(['plan', '--users', '100', '--drain', 'node-1,node-2,node-1'], /DUPLICATE_NODE: .*node-1/);
  });

  it('commander usage errors, with and without a suggestion', async () => {
    await oneLineError(['plan', '--bogus'], /USAGE: unknown option '--bogus'/);
    await oneLineError(['plan', '--nodez', '3'], /USAGE: unknown option '--nodez'.*--nodes/);
    await oneLineError(['plan', '--nodes', 'x'], /USAGE: .*not a count/);
    await oneLineError(['nope'], /USAGE: unknown command 'nope'/);
  });

  it('a per-node accept rate for a node that is never in the fleet', async () => {
    await oneLineError(['storm', '--users', '100', '--add', '1', '--node-accept-per-sec', 'node-99=10'], /UNKNOWN_NODE: .*node-99/);
  });

  it('a malformed scenario file (YAML syntax error spanning several lines)', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cluster:\n  nodes: 3\n steps: [\n  - scale-out: 1\n');
    await oneLineError(['plan', '--scenario', bad], /INVALID_SCENARIO: .*bad\.yaml/);
  });
});
