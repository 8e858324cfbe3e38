#!/usr/bin/env node
// wsring-agent: one wsring node on its own port, for demos, tests and operations.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { pino } from 'pino';
import { createAgent } from './agent.js';
import { jwtAuthenticator } from './auth.js';
import { advertisedUrl, camel, CONFIG_ENV, ConfigError, envName, FLAGS, parseConfigFile, resolveSettings, SECRET_FLAGS, type CliSettings, type FlagSpec } from './cli-config.js';
import { AgentError } from './errors.js';
import { natsConnectOptions, redactUrls } from './nats-auth.js';
import { createTopologySigner } from './topology-signer.js';
import type { Authenticate } from './types.js';

// From dist/cli.js or src/cli.ts alike, installed or not: this package's own package.json.
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Usage and configuration errors: one line on stderr, exit code 2. */
function usage(message: string): never {
  process.stderr.write(`wsring-agent: ${message}\n`);
  process.exit(2);
}

const program = new Command('wsring-agent')
  .description('Run one wsring node: WebSocket endpoint, /topology, /healthz, /metrics, membership in NATS')
  .version(version, '-V, --version', 'print the version and exit')
  .option('--config <file>', `settings file, YAML or JSON, keys = flag names (also ${CONFIG_ENV})`)
  .exitOverride()
  .configureOutput({ outputError: () => {} })
  .addHelpText(
    'after',
    `\nEvery flag can also be set as an environment variable WSRING_<FLAG> (${envName('drain-deadline-ms')}, ${envName('no-delivery')}=true)\n` +
      'or as a key of the --config file (drain-deadline-ms: 60000). Flags win over the environment, which wins over the file.',
  );
for (const spec of FLAGS) {
  const option = new Option(`--${spec.name}${spec.arg ? ` ${spec.arg}` : ''}`, spec.help);
  // Switches keep no default here, so that "not given" stays distinguishable from "given false".
  if (spec.default !== undefined && spec.kind !== 'bool') option.default(spec.default);
  program.addOption(option);
}

/** Flags given on the command line itself (not the environment or a file). */
const onCommandLine = new Set<string>();

async function parseCommandLine(): Promise<CliSettings> {
  try {
    program.parse();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0); // --help, --version
      usage(err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  const opts = program.opts();
  const given = new Map<FlagSpec, unknown>();
  for (const spec of FLAGS) {
    // --no-delivery is stored by commander as `delivery: false`.
    const key = spec.name === 'no-delivery' ? 'delivery' : camel(spec.name);
    if (program.getOptionValueSource(key) !== 'cli') continue;
    onCommandLine.add(spec.name);
    given.set(spec, spec.name === 'no-delivery' ? opts.delivery === false : opts[key]);
  }
  try {
    const configFile = (opts.config as string | undefined) ?? (process.env[CONFIG_ENV] || undefined);
    return resolveSettings({ flags: given, env: process.env, file: configFile === undefined ? undefined : await readConfig(configFile) });
  } catch (err) {
    if (err instanceof ConfigError) usage(err.message);
    throw err;
  }
}

async function readConfig(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (extname(file).toLowerCase() === '.json') return parseConfigFile(file, text);
  let yaml: typeof import('yaml');
  try {
    yaml = await import('yaml');
  } catch {
    throw new ConfigError(`config ${file}: reading YAML needs the \`yaml\` package next to wsring-agent (npm install yaml), or use a .json file`);
  }
  return parseConfigFile(file, text, (t) => yaml.parse(t));
}

/** A secret kept in a file (mode 0600, a mounted Kubernetes secret...): its content without the trailing newline. */
function readSecret(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    usage(`--${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') usage(`--${flag} ${file}: the file is empty`);
  return secret;
}

const o = await parseCommandLine();
if (o.sigterm !== 'drain' && o.sigterm !== 'restart' && o.sigterm !== 'handoff') usage(`--sigterm must be drain, handoff or restart, got ${JSON.stringify(o.sigterm)}`);
if (o.jwtSecret !== undefined && o.jwtSecretFile !== undefined) usage('give --jwt-secret or --jwt-secret-file, not both');
if (o.natsPass !== undefined && o.natsPassFile !== undefined) usage('give --nats-pass or --nats-pass-file, not both');
if (o.natsToken !== undefined && o.natsTokenFile !== undefined) usage('give --nats-token or --nats-token-file, not both');
const jwtSecret = o.jwtSecretFile !== undefined ? readSecret('jwt-secret-file', o.jwtSecretFile) : o.jwtSecret;
const natsPass = o.natsPassFile !== undefined ? readSecret('nats-pass-file', o.natsPassFile) : o.natsPass;
const natsToken = o.natsTokenFile !== undefined ? readSecret('nats-token-file', o.natsTokenFile) : o.natsToken;
// The fleet page's credentials, checked like every other setting: one line, exit 2.
if (o.adminRole && !jwtSecret && !o.jwksUrl) usage('--admin-role needs --jwt-secret or --jwks-url to verify admin JWTs with');
if (o.adminToken !== undefined && o.adminToken.length < 16) usage('--admin-token must be at least 16 characters (use 32+ random ones)');
let url: string | undefined;
try {
  url = advertisedUrl(o);
} catch (err) {
  if (err instanceof ConfigError) usage(err.message);
  throw err;
}

/**
 * The fleet's topology signing key, read from a file (never from argv: a key on the command line shows in `ps`)
 * and checked here, so a bad one is a one-line usage error rather than a failed start.
 */
function readTopologyKey(file: string): Buffer | string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return usage(`--topology-key-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const key = bytes.length === 32 ? bytes : bytes.toString('utf8');
  try {
    createTopologySigner(key);
  } catch (err) {
    return usage(`--topology-key-file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return key;
}
const topologySigningKey = o.topologyKeyFile === undefined ? undefined : readTopologyKey(o.topologyKeyFile);

let authenticate: Authenticate | undefined;
if (jwtSecret !== undefined || o.jwksUrl !== undefined) {
  try {
    authenticate = jwtAuthenticator({
      secret: jwtSecret,
      jwksUrl: o.jwksUrl,
      issuer: o.jwtIssuer,
      audience: o.jwtAudience,
      algorithms: o.jwtAlgorithms,
      requireExp: !o.jwtExpOptional,
      clockToleranceSec: o.jwtClockToleranceSec,
    });
  } catch (err) {
    if (err instanceof AgentError) usage(err.message.replace(/^the HS256 secret/, 'the JWT secret'));
    throw err;
  }
} else if (!o.insecure) {
  usage('no authentication configured: give --jwt-secret-file (or WSRING_JWT_SECRET) or --jwks-url; --insecure runs without any (development only, anyone can connect as anyone)');
}

let nats: ReturnType<typeof natsConnectOptions>;
try {
  nats = natsConnectOptions(o.nats, {
    user: o.natsUser,
    pass: natsPass,
    token: natsToken,
    credsFile: o.natsCreds,
    nkeySeedFile: o.natsNkey,
    tlsCaFile: o.natsTlsCa,
    tlsCertFile: o.natsTlsCert,
    tlsKeyFile: o.natsTlsKey,
  });
} catch (err) {
  usage(`NATS credentials: ${(err as Error).message}`);
}

// Every secret this process knows, for the log redaction below; URLs lose their user info whatever it holds.
const secrets = [jwtSecret, natsPass, natsToken, o.adminToken, nats.connect.pass, nats.connect.token].filter((x): x is string => typeof x === 'string' && x.length >= 4);
const redact = (text: string): string => secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), redactUrls(text));
const redactDeep = (value: unknown, depth = 0): unknown => {
  if (typeof value === 'string') return redact(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
};

// `node` on every line exactly once: the agent names its node in some log calls and not in others, so the
// node comes in through a mixin, which the call's own fields override, rather than through pino's base
// bindings, which would be written beside them. Every line passes the redaction: nothing secret is logged.
const logger = pino({
  level: o.logLevel,
  base: null,
  mixin: () => ({ node: o.id }),
  hooks: {
    logMethod(args, method) {
      method.apply(this, args.map((a) => redactDeep(a)) as Parameters<typeof method>);
    },
  },
});

for (const flag of SECRET_FLAGS) {
  if (onCommandLine.has(flag)) logger.warn({ event: 'secret-in-argv', flag: `--${flag}` }, `--${flag} on the command line is visible to every local user (ps): use ${envName(flag)} or a file instead`);
}
if (o.insecure) {
  const warnInsecure = () => logger.warn({ event: 'insecure' }, 'running with --insecure: no authentication, anyone can connect as any user and read their messages; never in production');
  warnInsecure();
  setInterval(warnInsecure, 60_000).unref();
}

try {
  const agent = await createAgent({
    id: o.id,
    url,
    port: o.port,
    host: o.host,
    listenBacklog: o.listenBacklog,
    path: o.path,
    weight: o.weight,
    nats: { servers: nats.servers, connect: nats.connect, bucket: o.bucket, replicas: o.replicas },
    capacity: o.capacity,
    maxSessionsPerUser: o.maxSessionsPerUser,
    acceptRate: o.acceptRate,
    admissionWaitMs: o.admissionWaitMs,
    warmupMs: o.warmupMs,
    pacing: { ratePerSec: o.rate, burst: o.burst, jitterMs: o.jitterMs, graceMs: o.graceMs },
    settleMs: o.settleMs,
    heartbeatMs: o.heartbeatMs,
    livenessTimeoutMs: o.livenessMs,
    restartWindowMs: o.restartWindowMs,
    convergeAfterMs: o.convergeAfterMs,
    maxPayload: o.maxPayload,
    messageRate: { perSec: o.messageRate, burst: o.messageBurst },
    resumeRate: { perSec: o.resumeRate, burst: o.resumeBurst },
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress,
    maxMembers: o.maxMembers,
    allowedOrigins: o.allowedOrigins,
    followUnsignedPeers: o.followUnsignedPeers,
    drainDeadlineMs: o.drainDeadlineMs,
    restartBackInMs: o.restartBackInMs,
    authenticate,
    topologySigningKey,
    adminToken: o.adminToken,
    adminJwt: o.adminRole ? { secret: jwtSecret, jwksUrl: o.jwksUrl, role: o.adminRole, issuer: o.jwtIssuer, audience: o.jwtAudience } : undefined,
    delivery: !o.noDelivery
      ? { stream: o.deliveryStream, maxAgeMs: o.deliveryMaxAgeMs, maxBytes: o.deliveryMaxBytes, maxMessageBytes: o.deliveryMaxMessageBytes, publishTimeoutMs: o.deliveryPublishTimeoutMs, maxAckRetries: o.deliveryMaxAckRetries, maxConcurrentReplays: o.deliveryMaxConcurrentReplays, replayBatch: o.deliveryReplayBatch, replicas: o.deliveryReplicas ?? o.replicas }
      : false,
    logger,
    onMessage: o.echo ? (_user, data, conn) => conn.send(data) : undefined,
  });
  agent.on('rebalance', (r) => logger.info({ event: 'rebalance', ...r }, 'rebalance'));
  agent.on('rebalance-sent', (r) => logger.info({ event: 'rebalance-sent', ...r }, 'rebalance sent'));
  // Test harnesses read the bound port from this line.
  logger.info({ event: 'listening', port: agent.port, url: agent.url, epoch: agent.topology.epoch }, 'listening');

  let stopping = false;
  const stop = (signal: string, how: 'drain' | 'restart') => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'signal', signal, how }, how === 'drain' ? 'draining before exit' : 'restarting in place');
    // A drain hands off instead when a successor waits under this id (a handoff deploy): its users move once, to it.
    const leave = async () => {
      const successor = await agent.successor().catch(() => undefined);
      if (successor) return agent.handoff().then(({ users, remaining }) => ({ handedOff: users, remaining }));
      if (signal === 'SIGTERM' && onSigterm === 'handoff') logger.warn({}, 'no successor waits under this node id: draining instead');
      return agent.drain().then(({ remaining }) => ({ remaining }));
    };
    const done = how === 'drain' ? leave() : agent.restartInPlace().then(({ users, spreadMs }) => ({ users, spreadMs }));
    done.then(
      (result) => {
        logger.info({ event: 'exit', how, ...result }, how === 'drain' ? 'drained, exiting' : 'restarted in place, exiting');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: String(err) }, `${how} failed`);
        process.exit(1);
      },
    );
  };
  const onSigterm = o.sigterm as 'drain' | 'restart' | 'handoff';
  process.on('SIGTERM', () => stop('SIGTERM', onSigterm === 'restart' ? 'restart' : 'drain'));
  process.on('SIGINT', () => stop('SIGINT', 'drain'));
  process.on('SIGUSR2', () => stop('SIGUSR2', 'restart'));
} catch (err) {
  logger.fatal({ event: 'start-failed', err: String(err), code: (err as { code?: string }).code }, 'cannot start');
  process.exit(1);
}
