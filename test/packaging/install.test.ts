// The packages as a user gets them: `npm pack` every package, install the tarballs into fresh apps in the OS temp
// dir (outside the workspace, so nothing resolves to the repository's node_modules), and run them there: every
// entry point imports, the declarations type-check, the CLIs start, an agent on in-memory membership serves a
// Node client and a browser page bundled by the app's own esbuild, running in Chromium, and an agent on NATS
// (nats-server started by the installed testing entry) delivers published messages. Also lints the
// tarballs (publint, arethetypeswrong, scripts/lint-packages.mjs) and measures what each kind of app installs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintTarballs, npmEnv, packAll, ROOT, type Pack } from '../../scripts/lint-packages.mjs';

interface Footprint {
  packages: string[];
  bytes: number;
}

const FIXTURE = fileURLToPath(new URL('app/', import.meta.url));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ESBUILD_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/esbuild/package.json'), 'utf8')) as { version: string }).version;

// The apps' npm and node must not inherit the workspace run's npm settings (workspace, prefix, package fields).
const cleanEnv = npmEnv;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A fresh app depending on the given tarballs (plus registry packages), installed like a user would. */
function installApp(dir: string, tarballs: string[], extra: string[] = []): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'wsring-consumer', private: true, type: 'module' }, null, 2));
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs, ...extra];
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm install in ${dir} exited ${code}:\n${output}`))));
  });
}

/** Every package under node_modules (nested ones included) and the bytes of all its files. */
function footprint(app: string): Footprint {
  const packages: string[] = [];
  let bytes = 0;
  const size = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isFile()) bytes += lstatSync(path).size;
      else if (entry.isDirectory() && entry.name === 'node_modules') modules(path);
      else if (entry.isDirectory()) size(path);
    }
  };
  const modules = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const names = entry.name.startsWith('@') ? readdirSync(join(dir, entry.name)).map((n) => `${entry.name}/${n}`) : [entry.name];
      for (const name of names) {
        packages.push(name);
        size(join(dir, name));
      }
    }
  };
  modules(join(app, 'node_modules'));
  return { packages: packages.sort(), bytes };
}

// Generous: under a loaded machine packing, linting and installing take minutes; nothing here asserts on time.
const TIMEOUT = 300_000;
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

describe('published packages, installed from their tarballs into fresh apps', () => {
  let work: string;
  let packs: Pack[];
  const tarball = (name: string): string => packs.find((p) => p.name === name)!.tarball;
  const tarballVersion = (name: string): string => packs.find((p) => p.name === name)!.version;
  let app: string;
  const apps: Record<'client' | 'agent' | 'sim', string> = { client: '', agent: '', sim: '' };
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'wsring-packaging-'));
    packs = packAll(join(work, 'tarballs'));
    app = join(work, 'app');
    apps.client = join(work, 'client-only');
    apps.agent = join(work, 'agent-only');
    apps.sim = join(work, 'sim-only');
    const [ring, protocol, client, agent, sim] = ['@wsring/ring', '@wsring/protocol', '@wsring/client', '@wsring/node-agent', '@wsring/sim'].map(tarball);
    // Our packages come from the tarballs (the ^ ranges between them are met by the tarballs), third-party ones
    // from the registry (the npm cache first).
    await Promise.all([
      installApp(app, [ring, protocol, client, agent, sim], [`esbuild@${ESBUILD_VERSION}`]),
      installApp(apps.client, [ring, protocol, client]),
      installApp(apps.agent, [ring, protocol, agent]),
      installApp(apps.sim, [ring, protocol, client, agent, sim]),
    ]);
    cpSync(FIXTURE, app, { recursive: true });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    if (work) rmSync(work, { recursive: true, force: true });
  }, TIMEOUT);

  it('the tarballs pass publint, arethetypeswrong (esm-only) and the repository rules', async () => {
    // One version for all: the changesets group is fixed.
    const version = packs[0].version;
    expect(packs.map((p) => `${p.name}@${p.version}`)).toEqual(['@wsring/ring', '@wsring/protocol', '@wsring/client', '@wsring/node-agent', '@wsring/sim'].map((n) => `${n}@${version}`));
    expect(await lintTarballs(packs)).toEqual([]);
  }, TIMEOUT);

  it('the app lies outside the workspace and got our packages from the tarballs', () => {
    expect(app.startsWith(ROOT)).toBe(false);
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; version?: string }> };
    for (const pack of packs) {
      const entry = lock.packages[`node_modules/${pack.name}`];
      expect(entry?.version, pack.name).toBe(pack.version);
      expect(entry?.resolved, pack.name).toMatch(/^file:.*\.tgz$/);
    }
  }, TIMEOUT);

  it('every entry point imports under Node and the CLIs run', () => {
    const exported = JSON.parse(run(process.execPath, ['entries.mjs'], app)) as Record<string, string[]>;
    expect(exported['@wsring/client']).toEqual(expect.arrayContaining(['createClient', 'CloseCode', 'ClientError']));
    expect(exported['@wsring/client/internal']).toContain('transition');
    expect(exported['@wsring/node-agent']).toEqual(expect.arrayContaining(['createAgent', 'MemoryMembership', 'NatsMembership', 'createPublisher']));
    expect(exported['@wsring/node-agent/testing']).toContain('startNatsServer');
    expect(exported['@wsring/ring']).toEqual(expect.arrayContaining(['createRing', 'movedKeys']));
    expect(exported['@wsring/protocol']).toContain('decodeServerFrame');
    expect(exported['@wsring/sim']).toContain('runPlan');

    const bin = join(app, 'node_modules/.bin');
    expect(run(join(bin, 'wsring-agent'), ['--version'], app).trim()).toBe(tarballVersion('@wsring/node-agent'));
    const plan = run(join(bin, 'wsring-sim'), ['plan', '--nodes', '4', '--users', '10k', '--add', '1'], app);
    expect(plan).toMatch(/Users moved per step/);
  }, TIMEOUT);

  it('the declarations type-check in the app (strict, NodeNext, library checks on)', () => {
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  }, TIMEOUT);

  it('a Node script starts an agent on in-memory membership, connects a client and gets its messages', async () => {
    server = spawn(process.execPath, ['server.mjs'], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server!.stdout! }).once('line', resolve);
      server!.once('exit', (code) => reject(new Error(`server.mjs exited ${code} before reporting`)));
    });
    const report = JSON.parse(first) as { port: number; node: { on: string; state: string; received: unknown[] } };
    expect(report.node.on).toBe('solo');
    expect(report.node.received).toEqual([{ echo: 'hello from node' }, { pushed: 'node-user' }]);

    // (b) The browser page, bundled in the app by its esbuild from the client's browser entry, in Chromium.
    const inputs = JSON.parse(run(process.execPath, ['build.mjs'], app)) as string[];
    expect(inputs).toContain('node_modules/@wsring/client/dist/mod.js');
    expect(inputs.filter((p) => p.includes('node_modules/ws/') || p.startsWith('node:') || p.endsWith('client/dist/node.js'))).toEqual([]);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${report.port}/`);
    await page.waitForFunction(() => (globalThis as unknown as { wsring?: { received: unknown[] } }).wsring?.received.length === 2, undefined, { timeout: 60_000 });
    const result = await page.evaluate(() => (globalThis as unknown as { wsring: unknown }).wsring);
    expect(result).toEqual({ node: 'solo', received: [{ echo: 'hello from the browser' }, { pushed: 'browser-user' }], errors: [] });
    expect(pageErrors).toEqual([]);
  }, TIMEOUT);

  it('with NATS: an agent on NATS membership delivers what the agent and a backend publish to the installed client', () => {
    const report = JSON.parse(run(process.execPath, ['nats.mjs'], app)) as { on: string; received: unknown[] };
    expect(report).toEqual({ on: 'relay', received: [{ from: 'agent' }, { from: 'backend' }] });
  }, TIMEOUT);

  it('install footprints: the client alone stays small, the agent brings no client and no dev tools; each runs alone', () => {
    const sizes = { client: footprint(apps.client), agent: footprint(apps.agent), sim: footprint(apps.sim) };
    for (const [kind, f] of Object.entries(sizes)) console.log(`install footprint, ${kind}: ${f.packages.length} packages, ${mb(f.bytes)} MB in node_modules`);
    console.log(`client-only packages: ${sizes.client.packages.join(', ')}`);

    expect(sizes.client.packages).toEqual(['@wsring/client', '@wsring/protocol', '@wsring/ring', 'ws', 'xxhash-wasm']);
    const agent = sizes.agent.packages;
    expect(agent).toEqual(expect.arrayContaining(['@wsring/node-agent', '@nats-io/jetstream', '@types/ws', 'pino', 'prom-client']));
    for (const absent of ['@wsring/client', 'yaml', 'typescript', 'vitest', 'fast-check', 'hdr-histogram-js', 'esbuild']) expect(agent, absent).not.toContain(absent);
    expect(sizes.sim.packages).toEqual(expect.arrayContaining(['@wsring/sim', '@wsring/node-agent', '@wsring/client', 'yaml', 'cli-progress']));

    // Each app works with only what its package declares (the full app above has everything side by side).
    const load = (entries: string[]): string => `for (const e of ${JSON.stringify(entries)}) await import(e);`;
    run(process.execPath, ['--input-type=module', '-e', load(['@wsring/client', '@wsring/client/internal'])], apps.client);
    run(process.execPath, ['--input-type=module', '-e', load(['@wsring/node-agent', '@wsring/node-agent/internal', '@wsring/node-agent/testing'])], apps.agent);
    expect(run(join(apps.agent, 'node_modules/.bin/wsring-agent'), ['--help'], apps.agent)).toMatch(/--nats/);
    run(process.execPath, ['--input-type=module', '-e', load(['@wsring/sim'])], apps.sim);
  }, TIMEOUT);
});
