#!/usr/bin/env node
// wsring-agent: one wsring node on its own port, for demos, tests and operations.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { pino } from 'pino';
import { createAgent } from './agent.js';
import { jwtAuthenticator } from './auth.js';
import { advertisedUrl, camel, CONFIG_ENV, ConfigError, envName, FLAGS, parseConfigFile, resolveSettings, type CliSettings, type FlagSpec } from './cli-config.js';
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

const o = await parseCommandLine();
if (o.sigterm !== 'drain' && o.sigterm !== 'restart' && o.sigterm !== 'handoff') usage(`--sigterm must be drain, handoff or restart, got ${JSON.stringify(o.sigterm)}`);
// The fleet page's credentials, checked like every other setting: one line, exit 2.
if (o.adminRole && !o.jwtSecret && !o.jwksUrl) usage('--admin-role needs --jwt-secret or --jwks-url to verify admin JWTs with');
if (o.adminToken !== undefined && o.adminToken.length < 16) usage('--admin-token must be at least 16 characters (use 32+ random ones)');
let url: string | undefined;
try {
  url = advertisedUrl(o);
} catch (err) {
  if (err instanceof ConfigError) usage(err.message);
  throw err;
}
// `node` on every line exactly once: the agent names its node in some log calls and not in others, so the
// node comes in through a mixin, which the call's own fields override, rather than through pino's base
// bindings, which would be written beside them.
const logger = pino({ level: o.logLevel, base: null, mixin: () => ({ node: o.id }) });

let authenticate: Authenticate | undefined;
if (o.jwtSecret || o.jwksUrl) authenticate = jwtAuthenticator({ secret: o.jwtSecret, jwksUrl: o.jwksUrl });

try {
  const agent = await createAgent({
    id: o.id,
    url,
    port: o.port,
    host: o.host,
    listenBacklog: o.listenBacklog,
    path: o.path,
    weight: o.weight,
    nats: { servers: o.nats, bucket: o.bucket, replicas: o.replicas },
    capacity: o.capacity,
    acceptRate: o.acceptRate,
    pacing: { ratePerSec: o.rate, burst: o.burst, jitterMs: o.jitterMs, graceMs: o.graceMs },
    settleMs: o.settleMs,
    heartbeatMs: o.heartbeatMs,
    livenessTimeoutMs: o.livenessMs,
    restartWindowMs: o.restartWindowMs,
    convergeAfterMs: o.convergeAfterMs,
    maxPayload: o.maxPayload,
    messageRate: { perSec: o.messageRate, burst: o.messageBurst },
    drainDeadlineMs: o.drainDeadlineMs,
    restartBackInMs: o.restartBackInMs,
    authenticate,
    adminToken: o.adminToken,
    adminJwt: o.adminRole ? { secret: o.jwtSecret, jwksUrl: o.jwksUrl, role: o.adminRole } : undefined,
    delivery: !o.noDelivery
      ? { stream: o.deliveryStream, maxAgeMs: o.deliveryMaxAgeMs, maxBytes: o.deliveryMaxBytes, maxMessageBytes: o.deliveryMaxMessageBytes, replicas: o.deliveryReplicas ?? o.replicas }
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
