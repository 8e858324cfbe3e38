// The settings of `wsring-agent`, from four sources: flags > WSRING_<FLAG> environment variables > a --config
// file (YAML or JSON, keys = flag names) > defaults. One table of flags drives the command line, the help,
// the environment names, the config keys and the checks, so they cannot drift apart.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { DELIVERY_DEFAULTS } from './delivery/options.js';
import { DEFAULTS, NODE_ID_PATTERN } from './options.js';

/** A setting that cannot be used; the message is one line naming where it came from. */
export class ConfigError extends Error {}

type Kind = 'id' | 'string' | 'url' | 'list' | 'port' | 'count' | 'positive' | 'nonNegative' | 'bool' | 'logLevel';

export interface FlagSpec {
  /** Flag without `--`, also the config key (kebab-case; camelCase accepted) and, upper-cased, the env name. */
  name: string;
  /** Placeholder in the help (`<n>`); none for a switch. */
  arg?: string;
  kind: Kind;
  help: string;
  default?: string | number | boolean;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const FLAGS: readonly FlagSpec[] = [
  { name: 'id', arg: '<id>', kind: 'id', help: 'node id, stable across restarts ([A-Za-z0-9_-], 1-64); required' },
  { name: 'port', arg: '<port>', kind: 'port', help: 'port to listen on (0: any free port)', default: DEFAULTS.port },
  { name: 'host', arg: '<host>', kind: 'string', help: 'address to listen on; a specific address also makes the default --url', default: DEFAULTS.host },
  { name: 'listen-backlog', arg: '<n>', kind: 'count', help: 'pending-connection queue of the listening socket', default: DEFAULTS.listenBacklog },
  { name: 'url', arg: '<url>', kind: 'url', help: 'public WebSocket URL clients use, ws(s)://<public-host>:<port>/ws; required when --host is 0.0.0.0 or :: (default: ws://<host>:<port><path>)' },
  { name: 'path', arg: '<path>', kind: 'string', help: 'WebSocket path', default: DEFAULTS.path },
  { name: 'nats', arg: '<servers>', kind: 'list', help: 'NATS server URL(s), comma separated', default: 'nats://127.0.0.1:4222' },
  { name: 'bucket', arg: '<name>', kind: 'string', help: 'KV bucket for membership', default: DEFAULTS.bucket },
  { name: 'replicas', arg: '<n>', kind: 'count', help: 'replicas of the membership bucket and the delivery stream on a NATS cluster (1-5; a new one gets 1 without it, an existing one is scaled to it)' },
  { name: 'weight', arg: '<w>', kind: 'positive', help: 'relative capacity for placement', default: DEFAULTS.weight },
  { name: 'capacity', arg: '<n>', kind: 'count', help: 'sessions (sockets, all users together) before new users spill over', default: DEFAULTS.capacity },
  { name: 'max-sessions-per-user', arg: '<n>', kind: 'count', help: 'sessions (tabs, devices) one user may hold; past it the oldest is closed 4006 SESSION_LIMIT', default: DEFAULTS.maxSessionsPerUser },
  { name: 'admission-wait-ms', arg: '<ms>', kind: 'nonNegative', help: 'longest a socket waits for its turn within the accept rate before it is admitted anyway (0: no gate)', default: DEFAULTS.admissionWaitMs },
  { name: 'warmup-ms', arg: '<ms>', kind: 'nonNegative', help: 'after it begins serving, the node declares a fifth of its accept rate, rising to the whole over this long (0: at once)', default: DEFAULTS.warmupMs },
  { name: 'accept-rate', arg: '<n>', kind: 'positive', help: 'moved users per second this node accepts from all senders together (its receiver budget)', default: DEFAULTS.acceptRate },
  { name: 'rate', arg: '<n>', kind: 'positive', help: 'targeted reconnects per second this node sends at most, to all receivers together', default: DEFAULTS.pacing.ratePerSec },
  { name: 'burst', arg: '<n>', kind: 'count', help: 'reconnects sent back to back before the rate applies (default: 250 ms of --rate, 250 at 1000/s)' },
  { name: 'jitter-ms', arg: '<ms>', kind: 'nonNegative', help: 'random delay before each reconnect queues', default: DEFAULTS.pacing.jitterMs },
  { name: 'grace-ms', arg: '<ms>', kind: 'nonNegative', help: 'close with MOVED this long after a reconnect frame', default: DEFAULTS.pacing.graceMs },
  { name: 'settle-ms', arg: '<ms>', kind: 'nonNegative', help: 'batch membership changes within this window', default: DEFAULTS.settleMs },
  { name: 'heartbeat-ms', arg: '<ms>', kind: 'positive', help: 'membership refresh interval', default: DEFAULTS.heartbeatMs },
  { name: 'liveness-ms', arg: '<ms>', kind: 'positive', help: 'a member silent this long is gone', default: DEFAULTS.livenessTimeoutMs },
  { name: 'restart-window-ms', arg: '<ms>', kind: 'nonNegative', help: 'an unreachable report this soon after a node restarted may be about its old process', default: DEFAULTS.restartWindowMs },
  { name: 'converge-after-ms', arg: '<ms>', kind: 'positive', help: 'stand-ins go back to an owner that has served this long with room (doubling per bounce)', default: DEFAULTS.convergeAfterMs },
  { name: 'max-payload', arg: '<bytes>', kind: 'count', help: 'largest client frame', default: DEFAULTS.maxPayload },
  { name: 'message-rate', arg: '<n>', kind: 'positive', help: 'client frames per second per connection', default: DEFAULTS.messageRate.perSec },
  { name: 'message-burst', arg: '<n>', kind: 'count', help: 'client frames back to back per connection', default: DEFAULTS.messageRate.burst },
  { name: 'sigterm', arg: '<drain|handoff|restart>', kind: 'string', help: 'what SIGTERM does: drain (hand off to a successor started under this --id if one waits, else users move to their new owners and the node leaves; handoff says the same, warning when no successor waits) or restart (users come back to this node after --restart-back-in-ms; a deploy that keeps the node); SIGUSR2 always restarts', default: 'drain' },
  { name: 'restart-back-in-ms', arg: '<ms>', kind: 'nonNegative', help: 'restart in place: when the next process serves; users come back then, spread at --accept-rate', default: DEFAULTS.restartBackInMs },
  { name: 'drain-deadline-ms', arg: '<ms>', kind: 'nonNegative', help: 'SIGTERM: how long to drain before exiting', default: DEFAULTS.drainDeadlineMs },
  // authentication (docs/security.md): one of --jwt-secret(-file), --jwks-url or --insecure is required
  { name: 'jwt-secret', arg: '<secret>', kind: 'string', help: 'verify HS256 JWTs with this secret, 32+ bytes; user = sub. Shows in ps: prefer WSRING_JWT_SECRET or --jwt-secret-file' },
  { name: 'jwt-secret-file', arg: '<file>', kind: 'string', help: 'read the HS256 secret from this file (trailing newline dropped)' },
  { name: 'jwks-url', arg: '<url>', kind: 'string', help: 'verify JWTs against this JWKS URL (asymmetric algorithms only); user = sub' },
  { name: 'jwt-issuer', arg: '<iss>', kind: 'list', help: 'accept only tokens whose iss is one of these (comma separated)' },
  { name: 'jwt-audience', arg: '<aud>', kind: 'list', help: 'accept only tokens whose aud includes one of these (comma separated)' },
  { name: 'jwt-algorithms', arg: '<algs>', kind: 'list', help: 'algorithms accepted with --jwks-url (default: RS256..512, PS256..512, ES256..512, EdDSA; never none or HS*)' },
  { name: 'jwt-exp-optional', kind: 'bool', help: 'accept tokens without exp (valid until the key changes); by default they are refused', default: false },
  { name: 'jwt-clock-tolerance-sec', arg: '<s>', kind: 'nonNegative', help: 'clock skew allowed for exp, nbf and iat (an iat further ahead is refused)', default: 5 },
  { name: 'insecure', kind: 'bool', help: 'run without authentication: the user query parameter is trusted, anyone can be anyone (development only; warns at start and every minute)', default: false },
  // connection hygiene and untrusted membership records (docs/security.md)
  { name: 'handshake-timeout-ms', arg: '<ms>', kind: 'positive', help: 'drop a TCP connection that has sent no complete request or WebSocket upgrade by then', default: DEFAULTS.handshakeTimeoutMs },
  { name: 'max-connections-per-address', arg: '<n>', kind: 'count', help: 'open TCP connections accepted from one remote address', default: DEFAULTS.maxConnectionsPerAddress },
  { name: 'resume-rate', arg: '<n>', kind: 'positive', help: 'resume frames (each a replay) per second per connection; more close 4429', default: DEFAULTS.resumeRate.perSec },
  { name: 'resume-burst', arg: '<n>', kind: 'count', help: 'resume frames back to back per connection', default: DEFAULTS.resumeRate.burst },
  { name: 'max-members', arg: '<n>', kind: 'count', help: 'member records kept; records of further node ids are ignored (a flood cannot stall the node)', default: DEFAULTS.maxMembers },
  { name: 'follow-unsigned-peers', kind: 'bool', help: 'cut off from NATS, adopt a peer\'s unsigned ring (by default only rings signed with --topology-key-file are adopted; without a key the node keeps its users until NATS is back)', default: false },
  { name: 'allowed-origins', arg: '<origins>', kind: 'list', help: 'member URLs must have one of these origins (wss://host[:port], comma separated); records naming others are ignored' },
  // NATS credentials (docs/security.md); credentials in --nats URLs are honoured too, and never logged
  { name: 'nats-user', arg: '<user>', kind: 'string', help: 'NATS user name' },
  { name: 'nats-pass', arg: '<pass>', kind: 'string', help: 'NATS password. Shows in ps: prefer WSRING_NATS_PASS or --nats-pass-file' },
  { name: 'nats-pass-file', arg: '<file>', kind: 'string', help: 'read the NATS password from this file' },
  { name: 'nats-token', arg: '<token>', kind: 'string', help: 'NATS token. Shows in ps: prefer WSRING_NATS_TOKEN or --nats-token-file' },
  { name: 'nats-token-file', arg: '<file>', kind: 'string', help: 'read the NATS token from this file' },
  { name: 'nats-creds', arg: '<file>', kind: 'string', help: 'NATS .creds file (user JWT and nkey seed)' },
  { name: 'nats-nkey', arg: '<file>', kind: 'string', help: 'file holding a NATS nkey seed (SU...)' },
  { name: 'nats-tls-ca', arg: '<file>', kind: 'string', help: 'PEM CA certificate(s) to verify the NATS server with (turns TLS on)' },
  { name: 'nats-tls-cert', arg: '<file>', kind: 'string', help: 'PEM client certificate for mutual TLS with NATS' },
  { name: 'nats-tls-key', arg: '<file>', kind: 'string', help: 'PEM key of --nats-tls-cert' },
  { name: 'topology-key-file', arg: '<path>', kind: 'string', help: 'sign served topologies with this Ed25519 private key (PKCS#8 PEM, or the raw 32-byte seed or its base64); clients given the public key (logged at start) trust only signed topologies' },
  // fleet page (fleet-page/, docs/fleet-page.md)
  { name: 'admin-token', arg: '<secret>', kind: 'string', help: 'serve the fleet page /fleet, its live feed and the live preview to whoever presents this secret, 16+ characters (better: WSRING_ADMIN_TOKEN); no page without it' },
  { name: 'admin-role', arg: '<role>', kind: 'string', help: 'also admit as admin a JWT verified like client tokens (--jwt-secret, --jwks-url) whose role claim (or roles list) holds this value' },
  { name: 'delivery-stream', arg: '<name>', kind: 'string', help: 'JetStream stream of per-user messages', default: DELIVERY_DEFAULTS.stream },
  { name: 'delivery-max-age-ms', arg: '<ms>', kind: 'count', help: 'retention window in time of the replay store', default: DELIVERY_DEFAULTS.maxAgeMs },
  { name: 'delivery-max-bytes', arg: '<bytes>', kind: 'count', help: 'retention window in size of the replay store', default: DELIVERY_DEFAULTS.maxBytes },
  { name: 'delivery-max-message-bytes', arg: '<bytes>', kind: 'count', help: 'largest published message', default: DELIVERY_DEFAULTS.maxMessageBytes },
  { name: 'delivery-publish-timeout-ms', arg: '<ms>', kind: 'count', help: 'how long a publish waits for its JetStream acknowledgement', default: DELIVERY_DEFAULTS.publishTimeoutMs },
  { name: 'delivery-max-ack-retries', arg: '<n>', kind: 'nonNegative', help: 'resends of a publish whose acknowledgement was lost (each can only fill the same slot: never stored twice)', default: DELIVERY_DEFAULTS.maxAckRetries },
  { name: 'delivery-max-concurrent-replays', arg: '<n>', kind: 'count', help: 'replays this node runs at once (after a NATS restart every connection replays); the rest wait', default: DELIVERY_DEFAULTS.maxConcurrentReplays },
  { name: 'delivery-replay-batch', arg: '<n>', kind: 'count', help: 'messages per request once a replay is past 8 (1: one get per message)', default: DELIVERY_DEFAULTS.replayBatch },
  { name: 'delivery-replicas', arg: '<n>', kind: 'count', help: 'replicas of the delivery stream when it differs from --replicas (an existing stream is scaled to it)' },
  { name: 'no-delivery', kind: 'bool', help: 'no per-user delivery (membership and rebalancing only)', default: false },
  { name: 'echo', kind: 'bool', help: 'echo client messages back to their sender (demos and tests)', default: false },
  { name: 'log-level', arg: '<level>', kind: 'logLevel', help: `pino log level (${LOG_LEVELS.join(', ')})`, default: 'info' },
];

/** Every setting, by camelCase flag name. */
export interface CliSettings {
  id: string;
  port: number;
  host: string;
  listenBacklog: number;
  url?: string;
  path: string;
  nats: string[];
  bucket: string;
  replicas?: number;
  weight: number;
  capacity: number;
  maxSessionsPerUser: number;
  acceptRate: number;
  admissionWaitMs: number;
  warmupMs: number;
  rate: number;
  burst?: number;
  jitterMs: number;
  graceMs: number;
  settleMs: number;
  heartbeatMs: number;
  livenessMs: number;
  restartWindowMs: number;
  convergeAfterMs: number;
  maxPayload: number;
  messageRate: number;
  messageBurst: number;
  drainDeadlineMs: number;
  sigterm: string;
  restartBackInMs: number;
  jwtSecret?: string;
  jwtSecretFile?: string;
  topologyKeyFile?: string;
  jwksUrl?: string;
  jwtIssuer?: string[];
  jwtAudience?: string[];
  jwtAlgorithms?: string[];
  jwtExpOptional: boolean;
  jwtClockToleranceSec: number;
  insecure: boolean;
  handshakeTimeoutMs: number;
  maxConnectionsPerAddress: number;
  resumeRate: number;
  resumeBurst: number;
  maxMembers: number;
  allowedOrigins?: string[];
  followUnsignedPeers: boolean;
  natsUser?: string;
  natsPass?: string;
  natsPassFile?: string;
  natsToken?: string;
  natsTokenFile?: string;
  natsCreds?: string;
  natsNkey?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  adminToken?: string;
  adminRole?: string;
  deliveryStream: string;
  deliveryMaxAgeMs: number;
  deliveryMaxBytes: number;
  deliveryMaxMessageBytes: number;
  deliveryPublishTimeoutMs: number;
  deliveryMaxAckRetries: number;
  deliveryMaxConcurrentReplays: number;
  deliveryReplayBatch: number;
  deliveryReplicas?: number;
  noDelivery: boolean;
  echo: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
}

export const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envName = (name: string): string => `WSRING_${name.toUpperCase().replace(/-/g, '_')}`;
/** Flags holding a secret: on the command line any local user can read them (ps, /proc); a warning says so. */
export const SECRET_FLAGS: readonly string[] = ['jwt-secret', 'nats-pass', 'nats-token', 'admin-token'];

/** The variable naming a config file when --config is not given. */
export const CONFIG_ENV = 'WSRING_CONFIG';

const MUST: Record<Kind, string> = {
  id: 'must be 1-64 of [A-Za-z0-9_-]',
  string: 'must be a non-empty string',
  url: 'must be a ws:// or wss:// URL',
  list: 'must be a non-empty comma-separated string or list of strings',
  port: 'must be an integer 0-65535',
  count: 'must be an integer >= 1',
  positive: 'must be a number > 0',
  nonNegative: 'must be a number >= 0',
  bool: 'must be true or false',
  logLevel: `must be one of ${LOG_LEVELS.join(', ')}`,
};

/**
 * A value as the setting it names. `raw` is a string from the command line or the environment, or anything
 * a config file holds (numbers and booleans as such; strings that spell them are accepted too). Returns
 * undefined when the value does not fit.
 */
function convert(kind: Kind, raw: unknown): unknown {
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  const num = typeof raw === 'number' ? raw : text !== undefined && text !== '' ? Number(text) : NaN;
  switch (kind) {
    case 'id':
      return typeof raw === 'string' && NODE_ID_PATTERN.test(raw) ? raw : undefined;
    case 'string':
      return typeof raw === 'string' && raw !== '' ? raw : undefined;
    case 'logLevel':
      return (LOG_LEVELS as readonly unknown[]).includes(raw) ? raw : undefined;
    case 'url':
      try {
        return typeof raw === 'string' && /^wss?:$/.test(new URL(raw).protocol) ? raw : undefined;
      } catch {
        return undefined;
      }
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : Array.isArray(raw) ? raw : [];
      return items.length > 0 && items.every((s) => typeof s === 'string' && s !== '') ? items : undefined;
    }
    case 'port':
      return Number.isInteger(num) && num >= 0 && num <= 65535 ? num : undefined;
    case 'count':
      return Number.isSafeInteger(num) && num >= 1 ? num : undefined;
    case 'positive':
      return Number.isFinite(num) && num > 0 ? num : undefined;
    case 'nonNegative':
      return Number.isFinite(num) && num >= 0 ? num : undefined;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (text !== undefined && /^(true|1|yes|on)$/i.test(text)) return true;
      if (text !== undefined && /^(false|0|no|off)$/i.test(text)) return false;
      return undefined;
  }
}

/** The value, or a ConfigError naming `where` (e.g. `--capacity`, `WSRING_CAPACITY`, `config a.yaml: capacity`). */
export function parseValue(spec: FlagSpec, raw: unknown, where: string): unknown {
  const value = convert(spec.kind, raw);
  if (value === undefined) throw new ConfigError(`${where} ${MUST[spec.kind]}, got ${JSON.stringify(raw)}`);
  return value;
}

/** A config file's settings by flag name. Unknown keys, a key given twice (kebab and camel) and bad values throw. */
export function parseConfigFile(file: string, text = readFileSync(file, 'utf8'), parseYaml?: (text: string) => unknown): Map<FlagSpec, unknown> {
  let doc: unknown;
  try {
    if (extname(file).toLowerCase() === '.json' || !parseYaml) doc = JSON.parse(text);
    else doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config ${file}: not valid ${extname(file).toLowerCase() === '.json' || !parseYaml ? 'JSON' : 'YAML'}: ${String((err as Error).message).split('\n')[0].replace(/:$/, '')}`);
  }
  if (doc === null || doc === undefined) return new Map();
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config ${file}: must be a mapping of flag names to values`);
  const out = new Map<FlagSpec, unknown>();
  const seen = new Map<FlagSpec, string>();
  for (const [key, raw] of Object.entries(doc)) {
    const spec = FLAGS.find((f) => f.name === key || camel(f.name) === key);
    if (!spec) throw new ConfigError(`config ${file}: unknown key ${JSON.stringify(key)} (keys are the flag names, e.g. capacity, drain-deadline-ms; see --help)`);
    if (seen.has(spec)) throw new ConfigError(`config ${file}: ${JSON.stringify(key)} repeats ${JSON.stringify(seen.get(spec))}`);
    seen.set(spec, key);
    if (raw === null) continue;
    out.set(spec, parseValue(spec, raw, `config ${file}: ${key}`));
  }
  return out;
}

export interface Sources {
  /** Values given on the command line (as strings, or booleans for switches), by flag name. */
  flags: Map<FlagSpec, unknown>;
  env: Record<string, string | undefined>;
  /** Parsed config file, if any. */
  file?: Map<FlagSpec, unknown>;
}

/** Flags > env > config file > defaults, each checked. Throws ConfigError with one line naming the key. */
export function resolveSettings({ flags, env, file }: Sources): CliSettings {
  const out: Record<string, unknown> = {};
  for (const spec of FLAGS) {
    const key = camel(spec.name);
    const envValue = env[envName(spec.name)];
    if (flags.has(spec)) out[key] = parseValue(spec, flags.get(spec), `--${spec.name}`);
    else if (envValue !== undefined && envValue !== '') out[key] = parseValue(spec, envValue, envName(spec.name));
    else if (file?.has(spec)) out[key] = file.get(spec);
    else if (spec.default !== undefined) out[key] = parseValue(spec, spec.default, `default of --${spec.name}`);
  }
  if (out.id === undefined) throw new ConfigError(`--id is required (or ${envName('id')}, or id in the config file)`);
  return out as unknown as CliSettings;
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0', '[::]']);

/**
 * The URL to advertise, or undefined to let the agent derive ws://<host>:<bound port><path> once it listens.
 * Listening on every address gives no address a client could use: refuse to guess.
 */
export function advertisedUrl(s: Pick<CliSettings, 'url' | 'host' | 'port' | 'path'>): string | undefined {
  if (s.url !== undefined) return s.url;
  if (ANY_ADDRESS.has(s.host)) {
    throw new ConfigError(`--url is required when listening on ${s.host}: pass --url ws(s)://<public-host>:<port>${s.path} (what clients connect to), or --host <address> to advertise ws://<address>:<port>${s.path}`);
  }
  if (s.host.includes(':')) {
    if (s.port === 0) throw new ConfigError(`--url is required with an IPv6 --host and --port 0: pass --url ws://[${s.host}]:<port>${s.path}`);
    return `ws://[${s.host}]:${s.port}${s.path}`;
  }
  return undefined;
}
