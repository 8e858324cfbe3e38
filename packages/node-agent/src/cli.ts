#!/usr/bin/env node
// wsring-agent: one wsring node on its own port, for demos, tests and operations.
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { createAgent } from './agent.js';
import { jwtAuthenticator } from './auth.js';
import { DELIVERY_DEFAULTS } from './delivery/options.js';
import { DEFAULTS } from './options.js';
import type { Authenticate } from './types.js';

const num = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};

const program = new Command('wsring-agent')
  .description('Run one wsring node: WebSocket endpoint, /topology, /healthz, /metrics, membership in NATS')
  .requiredOption('--id <id>', 'node id, stable across restarts ([A-Za-z0-9_-], 1-64)')
  .option('--port <port>', 'port to listen on (0: any free port)', num('port'), DEFAULTS.port)
  .option('--host <host>', 'address to listen on', DEFAULTS.host)
  .option('--listen-backlog <n>', 'pending-connection queue of the listening socket', num('listen-backlog'), DEFAULTS.listenBacklog)
  .option('--url <url>', 'public WebSocket URL clients use (default: ws://<host>:<port><path>)')
  .option('--path <path>', 'WebSocket path', DEFAULTS.path)
  .option('--nats <servers>', 'NATS server URL(s), comma separated', 'nats://127.0.0.1:4222')
  .option('--bucket <name>', 'KV bucket for membership', DEFAULTS.bucket)
  .option('--replicas <n>', 'replicas of the membership bucket and the delivery stream on a NATS cluster (1-5; default: 1 when created, else as they are)', num('replicas'))
  .option('--weight <w>', 'relative capacity for placement', num('weight'), DEFAULTS.weight)
  .option('--capacity <n>', 'connections before new users spill over', num('capacity'), DEFAULTS.capacity)
  .option('--accept-rate <n>', 'moved users per second this node accepts from all senders together (its receiver budget)', num('accept-rate'), DEFAULTS.acceptRate)
  .option('--rate <n>', 'targeted reconnects per second this node sends at most, to all receivers together', num('rate'), DEFAULTS.pacing.ratePerSec)
  .option('--burst <n>', 'reconnects sent back to back before the rate applies', num('burst'), DEFAULTS.pacing.burst)
  .option('--jitter-ms <ms>', 'random delay before each reconnect queues', num('jitter-ms'), DEFAULTS.pacing.jitterMs)
  .option('--grace-ms <ms>', 'close with MOVED this long after a reconnect frame', num('grace-ms'), DEFAULTS.pacing.graceMs)
  .option('--settle-ms <ms>', 'batch membership changes within this window', num('settle-ms'), DEFAULTS.settleMs)
  .option('--heartbeat-ms <ms>', 'membership refresh interval', num('heartbeat-ms'), DEFAULTS.heartbeatMs)
  .option('--liveness-ms <ms>', 'a member silent this long is gone', num('liveness-ms'), DEFAULTS.livenessTimeoutMs)
  .option('--restart-window-ms <ms>', 'an unreachable report this soon after a node restarted may be about its old process', num('restart-window-ms'), DEFAULTS.restartWindowMs)
  .option('--max-payload <bytes>', 'largest client frame', num('max-payload'), DEFAULTS.maxPayload)
  .option('--message-rate <n>', 'client frames per second per connection', num('message-rate'), DEFAULTS.messageRate.perSec)
  .option('--message-burst <n>', 'client frames back to back per connection', num('message-burst'), DEFAULTS.messageRate.burst)
  .option('--drain-deadline-ms <ms>', 'SIGTERM: how long to drain before exiting', num('drain-deadline-ms'), DEFAULTS.drainDeadlineMs)
  .option('--jwt-secret <secret>', 'verify HS256 JWTs with this secret (also WSRING_JWT_SECRET); user = sub')
  .option('--jwks-url <url>', 'verify JWTs against this JWKS URL; user = sub')
  .option('--delivery-stream <name>', 'JetStream stream of per-user messages', DELIVERY_DEFAULTS.stream)
  .option('--delivery-max-age-ms <ms>', 'retention window in time of the replay store', num('delivery-max-age-ms'), DELIVERY_DEFAULTS.maxAgeMs)
  .option('--delivery-max-bytes <bytes>', 'retention window in size of the replay store', num('delivery-max-bytes'), DELIVERY_DEFAULTS.maxBytes)
  .option('--delivery-max-message-bytes <bytes>', 'largest published message', num('delivery-max-message-bytes'), DELIVERY_DEFAULTS.maxMessageBytes)
  .option('--no-delivery', 'no per-user delivery (membership and rebalancing only)')
  .option('--echo', 'echo client messages back to their sender (demos and tests)')
  .option('--log-level <level>', 'pino log level', 'info');

program.parse();
const o = program.opts();
const logger = pino({ level: o.logLevel, base: { node: o.id } });

const jwtSecret = o.jwtSecret ?? process.env.WSRING_JWT_SECRET;
let authenticate: Authenticate | undefined;
if (jwtSecret || o.jwksUrl) authenticate = jwtAuthenticator({ secret: jwtSecret, jwksUrl: o.jwksUrl });

try {
  const agent = await createAgent({
    id: o.id,
    url: o.url,
    port: o.port,
    host: o.host,
    listenBacklog: o.listenBacklog,
    path: o.path,
    weight: o.weight,
    nats: { servers: String(o.nats).split(','), bucket: o.bucket, replicas: o.replicas },
    capacity: o.capacity,
    acceptRate: o.acceptRate,
    pacing: { ratePerSec: o.rate, burst: o.burst, jitterMs: o.jitterMs, graceMs: o.graceMs },
    settleMs: o.settleMs,
    heartbeatMs: o.heartbeatMs,
    livenessTimeoutMs: o.livenessMs,
    restartWindowMs: o.restartWindowMs,
    maxPayload: o.maxPayload,
    messageRate: { perSec: o.messageRate, burst: o.messageBurst },
    drainDeadlineMs: o.drainDeadlineMs,
    authenticate,
    delivery: o.delivery
      ? { stream: o.deliveryStream, maxAgeMs: o.deliveryMaxAgeMs, maxBytes: o.deliveryMaxBytes, maxMessageBytes: o.deliveryMaxMessageBytes, replicas: o.replicas }
      : false,
    logger,
    onMessage: o.echo ? (_user, data, conn) => conn.send(data) : undefined,
  });
  agent.on('rebalance', (r) => logger.info({ event: 'rebalance', ...r }, 'rebalance'));
  agent.on('rebalance-sent', (r) => logger.info({ event: 'rebalance-sent', ...r }, 'rebalance sent'));
  // Test harnesses read the bound port from this line.
  logger.info({ event: 'listening', port: agent.port, url: agent.url, epoch: agent.topology.epoch }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'signal', signal }, 'draining before exit');
    agent.drain().then(
      ({ remaining }) => {
        logger.info({ event: 'exit', remaining }, 'drained, exiting');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: String(err) }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ event: 'start-failed', err: String(err), code: (err as { code?: string }).code }, 'cannot start');
  process.exit(1);
}
