// deploy/observability: every metric the Grafana dashboard and the alert rules query is one a running agent exports
// on /metrics (an agent with NATS membership and delivery, so the delivery counters exist too). With promtool
// installed, the rules and every dashboard query also parse as PromQL and the rules pass their unit tests.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createAgent, type Agent } from '@wsring/node-agent';
import { startNatsServer, type NatsServer } from '@wsring/node-agent/testing';
import { installed, read, ROOT, yamlDocuments } from './support.js';

const dashboard = JSON.parse(read('deploy/observability/grafana-dashboard.json'));
const rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] = (
  yamlDocuments('deploy/observability/alerts.yaml')[0].groups as { rules: any[] }[]
).flatMap((g) => g.rules);

/** Every panel, rows' nested panels included. */
const allPanels = (panels: any[]): any[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const dashboardQueries: string[] = [
  ...allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t: any) => t.expr)),
  ...dashboard.templating.list.filter((v: any) => v.type === 'query').map((v: any) => (typeof v.query === 'string' ? v.query : v.query.query)),
];
/** Grafana's variables, as Prometheus would see them after Grafana substitutes them. */
const substitute = (expr: string) => expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m').replace(/\$\{?(\w+)\}?/g, '.*');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan', 'atan2']);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)` query) reads: identifiers that
 * are not functions, keywords, label names (inside `{}`, `by (...)` and the like), strings or durations.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/label_values\(([^,()]*(?:\{[^}]*\})?)\s*,\s*\w+\s*\)/g, '$1')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(m[0]) || /[0-9.]$/.test(stripped.slice(0, m.index))) continue; // 5m, 1e3
    names.add(m[0]);
  }
  return [...names];
}

/** Name -> type of every metric in a Prometheus text exposition. */
function exposition(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}
/** Whether `name` is exported: itself, or a histogram's or summary's _bucket/_sum/_count series. */
function exportedAs(exported: Map<string, string>, name: string): string | undefined {
  if (exported.has(name)) return name;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (base && ['histogram', 'summary'].includes(exported.get(base[1]) ?? '') && (base[2] !== 'bucket' || exported.get(base[1]) === 'histogram')) return base[1];
  return undefined;
}

describe('metric names in PromQL', () => {
  it('finds metrics and skips functions, labels, strings, durations and Grafana variables', () => {
    expect(metricNames('sum by (node) (rate(wsring_users_moved_total{job=~"$job", node=~"$node"}[$__rate_interval]))')).toEqual(['wsring_users_moved_total']);
    expect(metricNames('histogram_quantile(0.9, sum by (job, le) (rate(wsring_rebalance_duration_seconds_bucket[30m]))) > 120')).toEqual(['wsring_rebalance_duration_seconds_bucket']);
    expect(metricNames('max by (job) (wsring_epoch) - min by (job) (wsring_epoch) > 0 and on (job) up offset 5m')).toEqual(['wsring_epoch', 'up']);
    expect(metricNames('label_values(wsring_connections{job=~"$job"}, node)')).toEqual(['wsring_connections']);
    expect(metricNames('absent(wsring_connections) or vector(1e3)')).toEqual(['wsring_connections']);
  });
});

describe('deploy/observability against a running agent', () => {
  let nats: NatsServer;
  let agent: Agent;
  let exported: Map<string, string>;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    agent = await createAgent({ id: 'obs', host: '127.0.0.1', port: 0, nats: { servers: [nats.url] }, settleMs: 0 });
    const res = await fetch(`http://127.0.0.1:${agent.port}/metrics`);
    exported = exposition(await res.text());
  });
  afterAll(async () => {
    await agent?.close();
    await nats?.stop();
  });

  it('the agent exports its metrics, delivery counters included', () => {
    expect(exported.get('wsring_connections')).toBe('gauge');
    expect(exported.get('wsring_rebalance_duration_seconds')).toBe('histogram');
    expect(exported.has('wsring_delivery_published_total')).toBe(true);
  });

  it('every metric the dashboard queries is exported', () => {
    const used = new Set(dashboardQueries.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !exportedAs(exported, n))).toEqual([]);
  });

  it('every metric the alert rules query is exported', () => {
    const used = new Set(rules.flatMap((r) => metricNames(r.expr)));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((n) => !exportedAs(exported, n))).toEqual([]);
  });

  it('together they cover every metric the agent exports', () => {
    const used = new Set([...dashboardQueries, ...rules.map((r) => r.expr)].flatMap(metricNames).map((n) => exportedAs(exported, n)));
    expect([...exported.keys()].filter((n) => !used.has(n)), 'exported by the agent but neither on the dashboard nor in alerts.yaml').toEqual([]);
  });
});

describe('deploy/observability structure', () => {
  it('dashboard: unique panel ids, a grid position and a title per panel, the datasource variable on every query panel', () => {
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(typeof p.title).toBe('string');
      expect(p.gridPos).toMatchObject({ w: expect.any(Number), h: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
      if (p.targets) expect(p.datasource.uid).toBe('${datasource}');
    }
    expect(dashboard.templating.list.map((v: any) => v.name)).toEqual(['datasource', 'job', 'node']);
  });

  it('alerts: every rule has a name, an expression, a severity and a summary; names are unique', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Wsring[A-Za-z]+$/);
      expect(['info', 'warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
    }
  });

  it('promtool: the rules parse and pass their unit tests; every dashboard query parses', (ctx) => {
    if (!installed('promtool')) ctx.skip('promtool is not installed (Debian: apt-get install prometheus): PromQL syntax not checked');
    const dir = join(ROOT, 'deploy/observability');
    const check = spawnSync('promtool', ['check', 'rules', 'alerts.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const unit = spawnSync('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);
    const tmp = mkdtempSync(join(tmpdir(), 'wsring-dashboard-'));
    try {
      const queries = dashboardQueries.filter((q) => !q.startsWith('label_values('));
      const file = join(tmp, 'dashboard-rules.yaml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substitute(q) })) }] }));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
