// The built `wsring-agent` (bin/wsring-agent.js) as an operator runs it: --version, refusing to guess its public
// URL, settings from a config file and the environment under the flags, one-line errors, and JSON log lines with
// no key written twice.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';

const bin = fileURLToPath(new URL('../bin/wsring-agent.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'wsring-cli-'));

/** Run the CLI to completion (for the cases that exit at once). Environment: only PATH and `env`. */
function runCli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, errLines: r.stderr.split('\n').filter(Boolean) };
}

/**
 * Every key of every JSON object in `text`, object by object, read off the raw text: JSON.parse keeps only the
 * last of two equal keys, so it cannot show a duplicate.
 */
export function objectKeys(text: string): string[][] {
  const objects: string[][] = [];
  const stack: { keys: string[] | null }[] = [];
  let i = 0;
  const readString = (): string => {
    let s = '';
    for (i++; text[i] !== '"'; i++) {
      if (text[i] === '\\') s += text[i++];
      s += text[i];
    }
    i++;
    return s;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push({ keys: c === '{' ? [] : null });
      i++;
    } else if (c === '}' || c === ']') {
      const top = stack.pop()!;
      if (top.keys) objects.push(top.keys);
      i++;
    } else if (c === '"') {
      const s = readString();
      let j = i;
      while (text[j] === ' ') j++;
      if (text[j] === ':' && stack.at(-1)?.keys) stack.at(-1)!.keys!.push(s);
    } else i++;
  }
  return objects;
}
const duplicates = (keys: string[]) => keys.filter((k, n) => keys.indexOf(k) !== n);

describe('wsring-agent command line', () => {
  it('--version prints the package version, from any working directory', () => {
    const r = runCli(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(runCli(['-V']).stdout).toBe(`${version}\n`);
  });

  it('refuses to guess its public URL when listening on every address: exit 2, one line saying to pass --url', () => {
    for (const args of [['--id', 'a'], ['--id', 'a', '--host', '::']]) {
      const r = runCli(args);
      expect(r.code).toBe(2);
      expect(r.errLines).toHaveLength(1);
      expect(r.errLines[0]).toContain('pass --url ws(s)://<public-host>:<port>/ws');
      expect(r.stdout).toBe('');
    }
  });

  it('a topology key file that is missing or holds no Ed25519 private key: exit 2, one line naming the flag', () => {
    const garbage = join(dir, 'not-a-key.pem');
    writeFileSync(garbage, 'not a key\n');
    for (const file of [join(dir, 'missing.pem'), garbage]) {
      const r = runCli(['--id', 'a', '--host', '127.0.0.1', '--topology-key-file', file], { WSRING_JWT_SECRET: 'cli-options-test-secret-0123456789abcdef-0123456789' });
      expect(r.code).toBe(2);
      expect(r.errLines).toHaveLength(1);
      expect(r.errLines[0]).toContain(`--topology-key-file ${file}`);
      expect(r.stdout).toBe('');
    }
  });

  it('bad settings: exit 2 and one line naming the flag, variable or config key', () => {
    const yaml = join(dir, 'typo.yaml');
    writeFileSync(yaml, 'id: a\nhost: 127.0.0.1\ncapcity: 10\n');
    const json = join(dir, 'bad.json');
    writeFileSync(json, JSON.stringify({ id: 'a', host: '127.0.0.1', 'drain-deadline-ms': 'long' }));
    const cases: [string[], Record<string, string>, string][] = [
      [['--config', yaml], {}, `wsring-agent: config ${yaml}: unknown key "capcity"`],
      [['--config', json], {}, `wsring-agent: config ${json}: drain-deadline-ms must be a number >= 0, got "long"`],
      [['--id', 'a', '--host', '127.0.0.1'], { WSRING_CAPACITY: 'many' }, 'wsring-agent: WSRING_CAPACITY must be an integer >= 1, got "many"'],
      [['--id', 'a', '--host', '127.0.0.1', '--rate', '-1'], {}, 'wsring-agent: --rate must be a number > 0, got "-1"'],
      [['--id', 'a', '--bogus'], {}, "wsring-agent: unknown option '--bogus'"],
      [['--host', '127.0.0.1'], {}, 'wsring-agent: --id is required'],
      [['--config', join(dir, 'missing.yaml')], {}, 'cannot read it (ENOENT)'],
      [[], { WSRING_CONFIG: yaml }, 'unknown key "capcity"'],
    ];
    for (const [args, env, message] of cases) {
      const r = runCli(args, env);
      expect({ args, code: r.code, lines: r.errLines.length }).toEqual({ args, code: 2, lines: 1 });
      expect(r.errLines[0]).toContain(message);
    }
  });

  it('--help names --config and the WSRING_<FLAG> variables', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config <file>');
    expect(r.stdout).toContain('--version');
    expect(r.stdout).toContain('WSRING_DRAIN_DEADLINE_MS');
  });
});

describe('wsring-agent running with a config file, against a real nats-server', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes flags over WSRING_ variables over the file; derives its URL from --host; every log line has one node key and no key twice', async () => {
    const config = join(dir, 'agent.yaml');
    writeFileSync(
      config,
      [`id: from-file`, `insecure: true`, `nats: [${nats.url}]`, `host: 127.0.0.1`, `port: 0`, `path: /from-file`, `capacity: 5`, `weight: 2`, `settle-ms: 0`, `drain-deadline-ms: 1000`, `no-delivery: true`].join('\n'),
    );
    const child = spawn(process.execPath, [bin, '--config', config, '--weight', '4'], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '', WSRING_CAPACITY: '7', WSRING_WEIGHT: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const raw: string[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        for (let n = buffered.indexOf('\n'); n >= 0; n = buffered.indexOf('\n')) {
          const line = buffered.slice(0, n);
          buffered = buffered.slice(n + 1);
          raw.push(line);
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.event === 'listening') resolve(parsed);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}${raw.join('\n')}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await listening;
      const port = Number(line.port);
      expect(line.url).toBe(`ws://127.0.0.1:${port}/from-file`);
      const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ id: 'from-file', capacity: 7 }); // env over file
      const topology = (await (await fetch(`http://127.0.0.1:${port}/topology`)).json()) as { nodes: { id: string; weight: number }[] };
      expect(topology.nodes).toEqual([expect.objectContaining({ id: 'from-file', weight: 4 })]); // flag over env over file
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    if (buffered) raw.push(buffered);

    // Lines the agent writes with its own `node` field (topology applied, agent serving, draining) and lines the
    // CLI writes without one (listening, signal, exit): each carries `node` exactly once.
    const messages = raw.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['topology applied', 'agent serving', 'listening', 'draining before exit', 'drain finished', 'drained, exiting']));
    for (const line of raw) {
      const objects = objectKeys(line);
      for (const keys of objects) expect({ line, duplicates: duplicates(keys) }).toEqual({ line, duplicates: [] });
      const top = objects.at(-1)!;
      expect({ line, node: top.filter((k) => k === 'node').length }).toEqual({ line, node: 1 });
      expect((JSON.parse(line) as { node: string }).node).toBe('from-file');
    }
  });

  it('the key scan sees duplicates', () => {
    expect(objectKeys('{"node":"a","x":{"y":1,"y":2},"node":"a"}').map(duplicates)).toEqual([['y'], ['node']]);
    expect(objectKeys('{"a":"{\\"b\\":1}","b":[1,{"c":2}]}')).toEqual([['c'], ['a', 'b']]);
  });
});
