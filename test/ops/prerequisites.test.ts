// scripts/prerequisites.mjs (run by `npm test` before anything else): what it decides for each combination of
// present and missing binaries, root or not, apt-get or not. apt-get is a fake on a private PATH that
// records its arguments and "installs" by creating the missing files; nothing real is installed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../scripts/prerequisites.mjs', import.meta.url));
const rootPackage = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

let dir = '';
let bin = '';
let nats = '';
let chromium = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsring-prereq-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  nats = join(dir, 'sbin', 'nats-server');
  chromium = join(dir, 'usr-bin', 'chromium');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function executable(path: string, body = '#!/bin/sh\nexit 0\n'): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, body);
  chmodSync(path, 0o755);
}

/** A fake apt-get: logs its arguments; `install` creates the files named in FAKE_CREATE; FAKE_FAIL=<verb> fails that verb. */
function fakeAptGet(): string {
  const log = join(dir, 'apt.log');
  executable(
    join(bin, 'apt-get'),
    `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args, frontend: process.env.DEBIAN_FRONTEND }) + '\\n');
if (process.env.FAKE_FAIL === args[0]) process.exit(100);
if (args[0] === 'install') for (const f of (process.env.FAKE_CREATE || '').split(',').filter(Boolean)) {
  fs.mkdirSync(require('node:path').dirname(f), { recursive: true });
  fs.writeFileSync(f, '#!/bin/sh\\n'); fs.chmodSync(f, 0o755);
}
`,
  );
  return log;
}

function run(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [script], {
    env: { PATH: bin, NATS_SERVER: nats, PREREQ_CHROMIUM: chromium, PREREQ_AS_ROOT: '1', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stderr: r.stderr, lines: r.stderr.split('\n').filter(Boolean) };
}
const aptCalls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { args: string[]; frontend: string }) : []);

describe('npm test prerequisites', () => {
  it('npm test runs the check before turbo', () => {
    expect(rootPackage.scripts.test).toMatch(/^node scripts\/prerequisites\.mjs && turbo run test/);
  });

  it('says nothing and installs nothing when both binaries are where the tests launch them', () => {
    executable(nats);
    executable(chromium);
    const log = fakeAptGet();
    expect(run({})).toMatchObject({ code: 0, stderr: '' });
    expect(aptCalls(log)).toEqual([]);
  });

  it('as root with apt-get: updates, then installs exactly the missing package, non-interactively', () => {
    executable(chromium);
    const log = fakeAptGet();
    const r = run({ FAKE_CREATE: nats });
    expect(r.code).toBe(0);
    expect(aptCalls(log)).toEqual([
      { args: ['update', '-qq'], frontend: 'noninteractive' },
      { args: ['install', '-y', '-qq', 'nats-server'], frontend: 'noninteractive' },
    ]);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain('installing nats-server');
  });

  it('as root with apt-get: installs both when both are missing', () => {
    const log = fakeAptGet();
    expect(run({ FAKE_CREATE: `${nats},${chromium}` }).code).toBe(0);
    expect(aptCalls(log).map((c) => c.args)).toEqual([
      ['update', '-qq'],
      ['install', '-y', '-qq', 'nats-server', 'chromium'],
    ]);
  });

  it('not root: one line naming the missing package and the command, exit 1, no apt-get', () => {
    executable(nats);
    const log = fakeAptGet();
    const r = run({ PREREQ_AS_ROOT: '0' });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain('missing chromium');
    expect(r.lines[0]).not.toContain('nats-server');
    expect(r.lines[0]).toContain('sudo');
    expect(r.lines[0]).toContain('apt-get install -y -qq chromium');
    expect(aptCalls(log)).toEqual([]);
  });

  it('no apt-get: one line naming both missing binaries and where they are expected, exit 1', () => {
    const r = run({});
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain('missing nats-server chromium');
    expect(r.lines[0]).toContain(nats);
    expect(r.lines[0]).toContain(chromium);
  });

  it('found elsewhere on PATH: says how to point the tests at it instead of installing a second copy', () => {
    executable(chromium);
    executable(join(bin, 'nats-server'));
    const log = fakeAptGet();
    const r = run({});
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(`NATS_SERVER=${join(bin, 'nats-server')} npm test`);
    expect(aptCalls(log)).toEqual([]);
  });

  it('apt-get failing, or installing without producing the binary, stops with one line', () => {
    executable(chromium);
    fakeAptGet();
    const failed = run({ FAKE_FAIL: 'install' });
    expect(failed.code).toBe(1);
    expect(failed.lines.at(-1)).toMatch(/apt-get install nats-server` failed \(exit 100\)/);
    const noop = run({});
    expect(noop.code).toBe(1);
    expect(noop.lines.at(-1)).toContain(`${nats} is still missing`);
  });
});
