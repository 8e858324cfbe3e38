#!/usr/bin/env node
// Checks what `npm test` needs outside npm before any test starts: a nats-server binary (the agent and
// integration suites start their own) and Debian's chromium (the browser suites drive it). Where it can,
// running as root with apt-get, it installs what is missing; otherwise it stops with one line naming the
// command to run.
//
// It checks the paths the tests launch: nats-server at $NATS_SERVER or /usr/sbin/nats-server
// (packages/node-agent/src/testing/nats-server.ts), chromium at /usr/bin/chromium (the browser tests'
// executablePath). A binary found only elsewhere on PATH does not help those tests, so that case gets a
// line saying how to point them at it.
//
// Overrides, for testing this script: PREREQ_CHROMIUM (the chromium path checked), PREREQ_AS_ROOT=0|1
// (instead of the real uid). apt-get is looked up on PATH.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const env = process.env;
const PACKAGES = [
  { name: 'nats-server', path: env.NATS_SERVER || '/usr/sbin/nats-server', pointAt: (p) => `NATS_SERVER=${p} npm test` },
  { name: 'chromium', path: env.PREREQ_CHROMIUM || '/usr/bin/chromium', pointAt: (found) => `ln -s ${found} ${env.PREREQ_CHROMIUM || '/usr/bin/chromium'}` },
];

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const onPath = (name) => (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)).find(executable);
const fail = (line) => {
  process.stderr.write(`npm test: ${line}\n`);
  process.exit(1);
};

const missing = PACKAGES.filter((p) => !executable(p.path));
if (missing.length === 0) process.exit(0);

const asRoot = env.PREREQ_AS_ROOT !== undefined ? env.PREREQ_AS_ROOT === '1' : process.getuid?.() === 0;
const aptGet = onPath('apt-get');
const aptCommand = (list) => `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${list.map((p) => p.name).join(' ')}`;

// Found elsewhere on PATH: installing a second copy would surprise; say how to use the one there is.
const elsewhere = missing.map((p) => ({ ...p, found: onPath(p.name) })).filter((p) => p.found);
const absent = missing.filter((p) => !elsewhere.some((e) => e.name === p.name));
if (elsewhere.length > 0) {
  const hints = elsewhere.map((p) => `${p.name} is at ${p.found}, not ${p.path}: run \`${p.pointAt(p.found)}\``);
  if (absent.length > 0) hints.push(`install ${absent.map((p) => p.name).join(' ')}: \`${aptCommand(absent)}\``);
  fail(hints.join('; '));
}

const names = missing.map((p) => p.name).join(' ');
const command = aptCommand(missing);
if (!aptGet) fail(`missing ${names} (expected at ${missing.map((p) => p.path).join(', ')}); install ${names} (Debian/Ubuntu: \`${command}\`), then rerun`);
if (!asRoot) fail(`missing ${names}; install with \`sudo sh -c '${command}'\`, then rerun`);

process.stderr.write(`npm test: installing ${names} (${command})\n`);
const run = (args) => spawnSync(aptGet, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
const update = run(['update', '-qq']);
if (update.status !== 0) fail(`\`apt-get update -qq\` failed (exit ${update.status ?? update.signal}); fix apt, then run \`${command}\``);
const install = run(['install', '-y', '-qq', ...missing.map((p) => p.name)]);
if (install.status !== 0) fail(`\`apt-get install ${names}\` failed (exit ${install.status ?? install.signal}); run \`${command}\` by hand`);
const still = missing.filter((p) => !executable(p.path));
if (still.length > 0) fail(`installed ${names} but ${still.map((p) => p.path).join(', ')} is still missing`);
