// Issue 11, the operator's side, against the built `wsring-agent` in real processes: secure defaults (no start without
// an authenticator unless --insecure, which keeps warning), secrets that need not be in argv and never reach a log,
// and NATS with passwords, nkeys, tokens and mutual TLS on real nats-servers (certificates made here with openssl).
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, startNatsServer, type NatsServer, type SpawnedAgent } from '../src/testing/mod.js';

const bin = fileURLToPath(new URL('../bin/wsring-agent.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wsring-security-cli-'));
const PASSWORD = 'nats-password-5f1e9c0d7b';
const TOKEN = 'nats-token-8a3b2c1d0e9f';
const JWT_SECRET = 'jwt-secret-0123456789abcdef0123456789';

/** Run the CLI to completion. Environment: only PATH and `env`. */
function runCli(args: string[], env: Record<string, string> = {}, timeout = 20_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stderr: r.stderr };
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=wsring-test-ca');
  const leaf = (name: string, ext: string) => {
    file(`${name}.ext`, ext);
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return { ca: join(dir, 'ca.pem'), serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server.key'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') };
}

/**
 * A NATS JWT (decentralized auth) signed with an nkey: what `nsc` writes, made here so the test needs no `nsc`.
 * Issuer and subject are public nkeys; the signature is Ed25519 over `header.payload`.
 */
function natsJwt(claims: Record<string, unknown>, signer: ReturnType<typeof nkeys.createOperator>): string {
  const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const body = { ...claims, iat: Math.floor(Date.now() / 1000) };
  const withId = { ...body, jti: createHash('sha256').update(JSON.stringify(body)).digest('base64url') };
  const signed = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64(withId)}`;
  return `${signed}.${Buffer.from(signer.sign(new TextEncoder().encode(signed))).toString('base64url')}`;
}

/** An operator-mode server config (operator, system account, one account with JetStream) and a user .creds file for it. */
function operatorSetup(): { serverConf: string; creds: (account?: ReturnType<typeof nkeys.createAccount>) => string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const unlimited = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true };
  const accountJwt = (a: typeof account, name: string, limits: Record<string, unknown>) =>
    natsJwt({ iss: operator.getPublicKey(), sub: a.getPublicKey(), name, nats: { type: 'account', version: 2, limits } }, operator);
  const conf = [
    `operator: ${natsJwt({ iss: operator.getPublicKey(), sub: operator.getPublicKey(), name: 'wsring-test', nats: { type: 'operator', version: 2 } }, operator)}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${account.getPublicKey()}: ${accountJwt(account, 'agents', { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 })}`,
    `  ${system.getPublicKey()}: ${accountJwt(system, 'SYS', unlimited)}`,
    '}',
  ].join('\n');
  return {
    serverConf: file('operator.conf', conf),
    creds: (signer = account) => {
      const user = nkeys.createUser();
      const userJwt = natsJwt({ iss: signer.getPublicKey(), sub: user.getPublicKey(), name: 'agent', nats: { type: 'user', version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 } }, signer);
      const seed = new TextDecoder().decode(user.getSeed());
      return file(`user-${user.getPublicKey().slice(0, 8)}.creds`, `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
    },
  };
}

const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
const agents: SpawnedAgent[] = [];
let withPasswords: NatsServer;
let withTls: NatsServer;
let nkeySeedFile: string;
let certs: ReturnType<typeof makeCertificates>;

beforeAll(async () => {
  const user = nkeys.createUser();
  nkeySeedFile = file('agent.nk', new TextDecoder().decode(user.getSeed()) + '\n');
  file('pass', `${PASSWORD}\n`);
  const passwords = file(
    'passwords.conf',
    `authorization { users = [ { user: "agent", password: "${PASSWORD}" }, { nkey: "${user.getPublicKey()}" } ] }\n`,
  );
  withPasswords = await startNatsServer({ args: ['-c', passwords] });
  if (hasOpenssl) {
    certs = makeCertificates();
    const tls = file(
      'tls.conf',
      `tls { cert_file: "${certs.serverCert}", key_file: "${certs.serverKey}", ca_file: "${certs.ca}", verify: true, timeout: 5 }\nauthorization { token: "${TOKEN}" }\n`,
    );
    withTls = await startNatsServer({ args: ['-c', tls] });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await withPasswords?.stop();
  await withTls?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const allLogs = (a: SpawnedAgent) => a.logs.map((l) => JSON.stringify(l)).join('\n');

describe('secure defaults', () => {
  it('refuses to start without an authenticator: exit 2, one line naming the ways out', () => {
    const r = runCli(['--id', 'a', '--host', '127.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^wsring-agent: no authentication configured: give --jwt-secret-file \(or WSRING_JWT_SECRET\) or --jwks-url; --insecure/);
  });

  it('refuses an HS256 secret shorter than 32 bytes, from the environment as from a flag', () => {
    for (const r of [runCli(['--id', 'a', '--host', '127.0.0.1'], { WSRING_JWT_SECRET: 'sixchr' }), runCli(['--id', 'a', '--host', '127.0.0.1', '--jwt-secret-file', file('short', 'sixchr\n')])]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('the JWT secret must be at least 32 bytes (got 6)');
      expect(r.out).not.toContain('sixchr');
    }
  });

  it('--insecure starts (user/password from a file for NATS) and says loudly that anyone is anyone', async () => {
    const a = await spawnAgent({ id: 'insecure', nats: withPasswords.url, insecure: true, natsUser: 'agent', natsPassFile: join(dir, 'pass'), noDelivery: true });
    agents.push(a);
    const warning = await a.waitForLog((l) => l.event === 'insecure' && l.level === 40);
    expect(warning.msg).toContain('no authentication');
    expect(allLogs(a)).not.toContain(PASSWORD);
    await a.kill();
  });
});

describe('secrets', () => {
  it('a secret in argv works but is warned about; credentials in the NATS URL are honoured; no secret reaches a log line, even at trace', async () => {
    const ADMIN = 'admin-token-0123456789abcdef';
    const a = await spawnAgent({ id: 'argv', nats: `nats://agent:${PASSWORD}@127.0.0.1:${withPasswords.port}`, jwtSecret: JWT_SECRET, adminToken: ADMIN, logLevel: 'trace', noDelivery: true });
    agents.push(a);
    const warning = await a.waitForLog((l) => l.event === 'secret-in-argv');
    expect(warning).toMatchObject({ flag: '--jwt-secret' });
    expect(String(warning.msg)).toContain('WSRING_JWT_SECRET');
    await a.waitForLog((l) => l.event === 'secret-in-argv' && l.flag === '--admin-token');
    const text = allLogs(a);
    expect(text).not.toContain(JWT_SECRET);
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain(PASSWORD);
    await a.kill();
  });

  it('the same secret from the environment draws no warning', async () => {
    process.env.WSRING_JWT_SECRET = JWT_SECRET;
    let a: SpawnedAgent;
    try {
      a = await spawnAgent({ id: 'env', nats: withPasswords.url, natsUser: 'agent', natsPassFile: join(dir, 'pass'), jwtSecretFile: undefined, noDelivery: true, insecure: false });
    } finally {
      delete process.env.WSRING_JWT_SECRET;
    }
    agents.push(a);
    expect(a.logs.some((l) => l.event === 'secret-in-argv' || l.event === 'insecure')).toBe(false);
    // The finding: `?user=victim&last=0` no longer makes anyone the victim.
    const victim = new WebSocket(`${a.url}?user=victim&last=0`);
    const code = await new Promise<number>((resolve) => victim.once('close', (c) => resolve(c)).once('error', () => {}));
    expect(code).toBe(4401);
    await a.kill();
  });

  it('a wrong NATS password fails the start with exit 1, and neither password is printed', () => {
    const r = runCli(['--id', 'wrong', '--host', '127.0.0.1', '--insecure', '--no-delivery', '--nats', `nats://agent:not-${PASSWORD}@127.0.0.1:${withPasswords.port}`], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.out).toContain('start-failed');
    // The credentials left the URL for the connect options, so the message names the server alone.
    expect(r.out).toContain(`cannot connect to NATS at nats://127.0.0.1:${withPasswords.port}`);
    expect(r.out).not.toContain(PASSWORD);
  });
});

describe('NATS credentials', () => {
  it('--nats-nkey signs in with an nkey seed from a file', async () => {
    const a = await spawnAgent({ id: 'nkey', nats: withPasswords.url, natsNkey: nkeySeedFile, noDelivery: true });
    agents.push(a);
    expect(a.port).toBeGreaterThan(0);
    expect(allLogs(a)).not.toContain(readFileSync(nkeySeedFile, 'utf8').trim());
    await a.kill();
  });

  it('--nats-creds signs in with a .creds file on a server in operator mode; a user of an unknown account is refused', async () => {
    const setup = operatorSetup();
    const server = await startNatsServer({ args: ['-c', setup.serverConf] });
    try {
      const a = await spawnAgent({ id: 'creds', nats: server.url, natsCreds: setup.creds() });
      agents.push(a);
      expect(a.port).toBeGreaterThan(0);
      await a.kill();
      const stranger = runCli(['--id', 'stranger', '--host', '127.0.0.1', '--insecure', '--nats', server.url, '--nats-creds', setup.creds(nkeys.createAccount())], {}, 30_000);
      expect(stranger.code).toBe(1);
      expect(stranger.out).toMatch(/Authorization Violation|authorization/i);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('without credentials the password-protected server refuses the agent', () => {
    const r = runCli(['--id', 'anon', '--host', '127.0.0.1', '--insecure', '--no-delivery', '--nats', withPasswords.url], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Authorization Violation|authorization/i);
  });

  it.skipIf(!hasOpenssl)('mutual TLS (--nats-tls-ca/-cert/-key) and a token from a file reach a server that verifies client certificates', async () => {
    const a = await spawnAgent({
      id: 'tls',
      nats: withTls.url,
      natsTlsCa: certs.ca,
      natsTlsCert: certs.clientCert,
      natsTlsKey: certs.clientKey,
      natsTokenFile: file('token', TOKEN),
      noDelivery: true,
    });
    agents.push(a);
    expect(allLogs(a)).not.toContain(TOKEN);
    await a.kill();
    // The CA alone is not enough: the server wants a client certificate.
    const noClientCert = runCli(['--id', 'tls2', '--host', '127.0.0.1', '--insecure', '--no-delivery', '--nats', withTls.url, '--nats-tls-ca', certs.ca, '--nats-token-file', join(dir, 'token')], {}, 30_000);
    expect(noClientCert.code).toBe(1);
    expect(noClientCert.out).not.toContain(TOKEN);
  });

  it('an unreadable secret file is a usage error naming the path', () => {
    const r = runCli(['--id', 'a', '--host', '127.0.0.1', '--insecure', '--nats-pass-file', join(dir, 'missing')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--nats-pass-file ${join(dir, 'missing')}: cannot read it (ENOENT)`);
  });
});

describe('connections that never finish', () => {
  /** GET `path` from a given local address; the status, or 0 without an answer within 10 s. */
  const get = (port: number, path: string, localAddress: string) =>
    new Promise<number>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, localAddress, timeout: 10_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end();
    });

  it('300 silent TCP connections do not exhaust a process limited to 256 descriptors: capped per address, dropped at the handshake timeout, /healthz answers throughout', async () => {
    const a = await spawnAgent({
      id: 'fds',
      nats: withPasswords.url,
      natsUser: 'agent',
      natsPassFile: join(dir, 'pass'),
      insecure: true,
      noDelivery: true,
      handshakeTimeoutMs: 3_000,
      maxConnectionsPerAddress: 100,
      exec: ['sh', '-c', 'ulimit -n 256 && exec "$@"', 'sh'],
    });
    agents.push(a);
    const silent: Socket[] = [];
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const s = tcpConnect({ host: '127.0.0.1', port: a.port });
      s.on('error', () => {});
      silent.push(s);
      closed.push(new Promise((r) => s.once('close', () => r())));
    }
    await new Promise<void>((r) => silent[299].once('connect', () => r()).once('close', () => r()));
    expect(await get(a.port, '/healthz', '127.0.0.2')).toBe(200);
    // Every silent one is closed by the agent: 200 at once (over the cap), the rest at the handshake timeout.
    await Promise.all(closed);
    expect(await get(a.port, '/healthz', '127.0.0.1')).toBe(200);
    const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/wsring_connections_refused_total\{reason="per-address-cap"[^}]*\} 200/);
    expect(metrics).toMatch(/wsring_connections_refused_total\{reason="handshake-timeout"[^}]*\} 100/);
    await a.kill();
  }, 60_000);
});
