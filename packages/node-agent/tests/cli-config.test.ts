// The CLI's settings logic in-process (src/cli-config.ts): precedence, checks, config file keys, the advertised URL.
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { advertisedUrl, ConfigError, envName, FLAGS, parseConfigFile, resolveSettings, type FlagSpec } from '../src/cli-config.js';
import { DEFAULTS } from '../src/options.js';
import { DELIVERY_DEFAULTS } from '../src/delivery/options.js';

const spec = (name: string): FlagSpec => FLAGS.find((f) => f.name === name)!;
const flags = (o: Record<string, unknown>) => new Map(Object.entries(o).map(([k, v]) => [spec(k), v]));
const yamlFile = (text: string) => parseConfigFile('agent.yaml', text, parseYaml);
const error = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no error');
};

describe('wsring-agent settings', () => {
  it('defaults equal the library defaults; --id is required', () => {
    const s = resolveSettings({ flags: flags({ id: 'a' }), env: {} });
    expect(s).toMatchObject({ id: 'a', capacity: DEFAULTS.capacity, drainDeadlineMs: DEFAULTS.drainDeadlineMs, host: '0.0.0.0', nats: ['nats://127.0.0.1:4222'], noDelivery: false, echo: false });
    expect(error(() => resolveSettings({ flags: new Map(), env: {} }))).toBe('--id is required (or WSRING_ID, or id in the config file)');
  });

  it('the delivery limits have flags, defaulting to the library defaults', () => {
    const s = resolveSettings({ flags: flags({ id: 'a' }), env: {} });
    expect(s).toMatchObject({ deliveryPublishTimeoutMs: DELIVERY_DEFAULTS.publishTimeoutMs, deliveryMaxAckRetries: DELIVERY_DEFAULTS.maxAckRetries, deliveryMaxConcurrentReplays: DELIVERY_DEFAULTS.maxConcurrentReplays, deliveryReplayBatch: DELIVERY_DEFAULTS.replayBatch });
    const given = resolveSettings({ flags: flags({ id: 'a', 'delivery-replay-batch': '1', 'delivery-max-ack-retries': '0' }), env: { WSRING_DELIVERY_MAX_CONCURRENT_REPLAYS: '8' } });
    expect(given).toMatchObject({ deliveryReplayBatch: 1, deliveryMaxAckRetries: 0, deliveryMaxConcurrentReplays: 8 });
    expect(error(() => resolveSettings({ flags: flags({ id: 'a', 'delivery-replay-batch': '0' }), env: {} }))).toContain('--delivery-replay-batch');
  });

  it('flags > env > config file > defaults, key by key', () => {
    const file = yamlFile('id: from-file\ncapacity: 5\nweight: 2\npath: /file\nnats: [nats://n1:4222, nats://n2:4222]\n');
    const env = { WSRING_CAPACITY: '7', WSRING_WEIGHT: '3' };
    const s = resolveSettings({ flags: flags({ weight: '4' }), env, file });
    expect(s).toMatchObject({ id: 'from-file', weight: 4, capacity: 7, path: '/file', nats: ['nats://n1:4222', 'nats://n2:4222'], rate: DEFAULTS.pacing.ratePerSec });
  });

  it('every flag has one env name WSRING_<FLAG>; switches read true/false; empty env values count as unset', () => {
    expect(FLAGS.map((f) => envName(f.name))).toContain('WSRING_JWT_SECRET');
    const s = resolveSettings({ flags: flags({ id: 'a' }), env: { WSRING_NO_DELIVERY: 'true', WSRING_ECHO: '0', WSRING_NATS: 'nats://x:1, nats://y:2', WSRING_PORT: '' } });
    expect(s).toMatchObject({ noDelivery: true, echo: false, nats: ['nats://x:1', 'nats://y:2'], port: 0 });
  });

  it('bad values: one line naming the flag, variable or config key', () => {
    expect(error(() => resolveSettings({ flags: flags({ id: 'a', capacity: '0' }), env: {} }))).toBe('--capacity must be an integer >= 1, got "0"');
    expect(error(() => resolveSettings({ flags: flags({ id: 'a' }), env: { WSRING_DRAIN_DEADLINE_MS: 'soon' } }))).toBe('WSRING_DRAIN_DEADLINE_MS must be a number >= 0, got "soon"');
    expect(error(() => resolveSettings({ flags: flags({ id: 'a' }), env: { WSRING_PORT: 'tcp://10.0.0.1:8080' } }))).toContain('WSRING_PORT must be an integer 0-65535');
    expect(error(() => yamlFile('rate: fast'))).toBe('config agent.yaml: rate must be a number > 0, got "fast"');
    expect(error(() => yamlFile('url: http://x/ws'))).toBe('config agent.yaml: url must be a ws:// or wss:// URL, got "http://x/ws"');
    expect(error(() => yamlFile('log-level: loud'))).toContain('config agent.yaml: log-level must be one of fatal');
    expect(error(() => yamlFile('id: "a b"'))).toContain('config agent.yaml: id must be 1-64 of [A-Za-z0-9_-]');
    expect(error(() => yamlFile('echo: maybe'))).toBe('config agent.yaml: echo must be true or false, got "maybe"');
    expect(error(() => yamlFile('nats: []'))).toContain('config agent.yaml: nats must be a non-empty');
  });

  it('config file: unknown keys, repeated keys, non-mappings and syntax errors are one-line errors; camelCase keys work; JSON too', () => {
    expect(error(() => yamlFile('capcity: 3'))).toMatch(/^config agent.yaml: unknown key "capcity"/);
    expect(error(() => yamlFile('config: other.yaml'))).toMatch(/unknown key "config"/);
    expect(error(() => yamlFile('drain-deadline-ms: 1\ndrainDeadlineMs: 2'))).toBe('config agent.yaml: "drainDeadlineMs" repeats "drain-deadline-ms"');
    expect(error(() => yamlFile('- a\n- b'))).toBe('config agent.yaml: must be a mapping of flag names to values');
    const syntax = error(() => yamlFile('a: [\n'));
    expect(syntax).toMatch(/^config agent.yaml: not valid YAML: /);
    expect(syntax).not.toContain('\n');
    expect(yamlFile('drainDeadlineMs: 60000\nno-delivery: true').get(spec('drain-deadline-ms'))).toBe(60_000);
    expect(yamlFile('').size).toBe(0);
    expect(parseConfigFile('agent.json', '{"capacity": 9, "nats": "nats://a:1"}').get(spec('capacity'))).toBe(9);
    expect(error(() => parseConfigFile('agent.json', '{"capacity": 9,}'))).toMatch(/^config agent.json: not valid JSON: /);
  });

  it('the advertised URL: --url as given; none on 0.0.0.0 or ::; derived by the agent from a specific host', () => {
    const base = { port: 8080, path: '/ws' };
    expect(advertisedUrl({ ...base, host: '0.0.0.0', url: 'wss://ws-1.example.com/ws' })).toBe('wss://ws-1.example.com/ws');
    for (const host of ['0.0.0.0', '::']) {
      const message = error(() => advertisedUrl({ ...base, host }));
      expect(message).toContain('pass --url ws(s)://<public-host>:<port>/ws');
      expect(message).not.toContain('\n');
    }
    expect(advertisedUrl({ ...base, host: '10.1.2.3' })).toBeUndefined(); // the agent derives ws://10.1.2.3:<bound port>/ws
    expect(advertisedUrl({ ...base, host: '::1' })).toBe('ws://[::1]:8080/ws');
    expect(error(() => advertisedUrl({ ...base, port: 0, host: '::1' }))).toContain('--url is required with an IPv6 --host and --port 0');
  });
});

describe('docs/security.md and the security flags', () => {
  it('names every authentication, connection-limit, membership and NATS credential flag, with the defaults the code has', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
    const security = FLAGS.filter((f) => /^(jwt-|jwks-|nats-|insecure$|handshake-|max-connections-|resume-|max-members$|allowed-origins$)/.test(f.name));
    expect(security.length).toBeGreaterThan(20);
    expect(security.filter((f) => !doc.includes(`--${f.name}`)).map((f) => f.name)).toEqual([]);
    for (const n of [DEFAULTS.maxConnectionsPerAddress, DEFAULTS.maxMembers]) expect(doc).toContain(n.toLocaleString('en-US'));
    expect(doc).toContain(`${DEFAULTS.handshakeTimeoutMs / 1000} s`);
    expect(doc).toContain(`${DEFAULTS.resumeRate.perSec}/s, burst ${DEFAULTS.resumeRate.burst}`);
  });
});
