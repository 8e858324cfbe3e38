// The fleet page in headless Chromium (issue 14): against real agents on a real nats-server, through the login
// form, while a node joins and another drains; and a 1,000-node fleet with in-memory membership.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createAgent, MemoryMembership, type Agent } from '@wsring/node-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS } from './browser-support.js';
import { allOpen, clusterForSuite, health, topology, users, waitForAgreement, waitUntil } from './support.js';

const TOKEN = 'fleet-page-admin-token-0123456789';
/** Screenshots land here (gitignored), one per run. */
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

interface FleetGlobals {
  __fleet: { updates: number; rings: number; renderMs: number; ringMs: number; firstFrameAt: number; firstRingAt: number; errors: string[]; snapshot: { epoch: number } | null };
}
const fleet = (page: Page) => page.evaluate(() => (globalThis as unknown as FleetGlobals).__fleet);

/** What the page shows: node count, epoch, connections per node row, ring arcs per node, drains. */
interface Shown {
  nodes: number;
  epoch: number;
  conns: Record<string, number>;
  arcs: string[];
  drains: string[];
}
// Run in the page (a string: this suite is typed without the DOM library).
const SHOWN = `(() => {
  const text = (id) => document.getElementById(id)?.textContent ?? '';
  const conns = {};
  for (const td of document.querySelectorAll('#nodes tr[data-node] td.conns')) {
    const v = td.getAttribute('data-conns');
    if (v !== null && v !== '') conns[td.closest('tr').getAttribute('data-node')] = Number(v);
  }
  const arcs = [...document.querySelectorAll('#ring path[data-node]')].filter((p) => (p.getAttribute('d') ?? '').includes('A')).map((p) => p.getAttribute('data-node'));
  return { nodes: Number(text('node-count').replace(/,/g, '')), epoch: Number(text('epoch')), conns, arcs: arcs.sort(), drains: [...document.querySelectorAll('#drains tr[data-node]')].map((r) => r.getAttribute('data-node')) };
})()`;
const shown = (page: Page) => page.evaluate(SHOWN) as Promise<Shown>;

let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

describe('the fleet page on a live fleet', () => {
  // A slow sender ceiling, so the drain lasts long enough to be seen on a page that refreshes every second.
  // Paced slowly (no burst) so a drain lasts a few seconds: long enough for the page, polling each second, to show it.
  const suite = clusterForSuite(['n1', 'n2', 'n3'], { adminToken: TOKEN, rate: 8, burst: 1 });

  it('follows a join and a drain: nodes, connections, epoch and arcs within seconds, without console errors', async () => {
    const { cluster } = suite;
    const clients = suite.startClients(users(60, 'page'), cluster.agents);
    await allOpen(clients);
    const n1 = cluster.agents.find((a) => a.id === 'n1')!;
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));

    // A stranger gets the login form; the admin token opens the page.
    await page.goto(`${n1.httpUrl}/fleet`);
    expect(await page.locator('#login').count()).toBe(1);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${n1.httpUrl}/fleet`), page.click('button[type=submit]')]);
    await page.waitForFunction(() => (globalThis as unknown as FleetGlobals).__fleet?.rings >= 1 && (globalThis as unknown as FleetGlobals).__fleet.updates >= 1, undefined, { timeout: 15_000 });

    /** The page agrees with the agents (their own /healthz and /topology) within `ms`. */
    const follows = async (ids: string[], ms = 8_000) => {
      const agents = cluster.agents.filter((a) => ids.includes(a.id));
      let last: Shown | undefined;
      let truth: { epoch: number; conns: Record<string, number> } | undefined;
      await waitUntil(
        async () => {
          const [s, t, hs] = await Promise.all([shown(page), topology(n1), Promise.all(agents.map((a) => health(a)))]);
          last = s;
          truth = { epoch: t.epoch, conns: Object.fromEntries(hs.map((h) => [h.body.id, h.body.connections])) };
          return s.nodes === ids.length && s.epoch === t.epoch && JSON.stringify(s.arcs) === JSON.stringify([...ids].sort()) && ids.every((id) => s.conns[id] === truth!.conns[id]);
        },
        ms,
        () => `the page to show ${ids.join(',')}: page ${JSON.stringify(last)}, agents ${JSON.stringify(truth)}`,
      );
    };
    await follows(['n1', 'n2', 'n3']);
    expect(Object.values((await shown(page)).conns).reduce((a, b) => a + b, 0)).toBe(60);

    // A join while the page is open.
    const joinedAt = Date.now();
    await cluster.add('n4', { adminToken: TOKEN, rate: 8, burst: 1 });
    await waitForAgreement(cluster.agents, 4);
    await follows(['n1', 'n2', 'n3', 'n4']);
    const joinSeenMs = Date.now() - joinedAt;

    // The live preview from the page: read-only, every agent answers.
    await page.selectOption('#pv-kind', 'add');
    await page.fill('#pv-ids', 'n9');
    await page.click('#pv-go');
    await page.waitForSelector('#pv-summary', { timeout: 10_000 });
    expect(await page.textContent('#pv-summary')).toMatch(/add n9: \d+ of 60 connected users move .* 4 of 4 agents answered/);

    // A drain while the page is open: it shows in the drains panel, then the node is gone.
    const n2 = cluster.agents.find((a) => a.id === 'n2')!;
    expect((await health(n2)).body.connections).toBeGreaterThan(15);
    const drainedAt = Date.now();
    const stopping = n2.stop();
    await waitUntil(async () => (await shown(page)).drains.includes('n2'), 8_000, 'n2 in the drains panel');
    await page.screenshot({ path: `${ARTIFACTS}fleet-page-draining.png`, fullPage: true });
    await stopping;
    cluster.agents.splice(cluster.agents.indexOf(n2), 1);
    await follows(['n1', 'n3', 'n4'], 12_000);
    const drainSeenMs = Date.now() - drainedAt;
    expect(Object.values((await shown(page)).conns).reduce((a, b) => a + b, 0)).toBe(60);

    const shot = `${ARTIFACTS}fleet-page.png`;
    await page.screenshot({ path: shot, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${ARTIFACTS}fleet-page-narrow.png`, fullPage: true });
    const narrow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    console.log(`fleet page: join seen in ${joinSeenMs} ms, drain through in ${drainSeenMs} ms; screenshots ${shot}, ${ARTIFACTS}fleet-page-draining.png, ${ARTIFACTS}fleet-page-narrow.png`);
    // On a phone's width nothing runs off the side (wide tables scroll inside their panels).
    expect(narrow).toBeLessThanOrEqual(390);
    expect((await fleet(page)).errors).toEqual([]);
    expect(problems).toEqual([]);
    for (const c of clients) c.client.close();
    await page.close();
  });
});

describe('the fleet page at 1,000 nodes (in-memory membership)', () => {
  const N = 1_000;
  /**
   * Stated budget, on the page's own clock from navigation, for a busy 2-core machine: the first frame shown, and
   * the ring drawn (its picture costs the agent a diff of the 320,000-range placement, once per placement). The
   * agent runs in this process, so the test's own waits can lag behind the page: the page's clock is the measure.
   */
  const FIRST_FRAME_MS = 8_000;
  const RING_MS = 20_000;
  let agent: Agent;
  beforeAll(async () => {
    const membership = new MemoryMembership();
    for (let i = 1; i < N; i++) {
      await membership.put({ id: `node-${String(i).padStart(4, '0')}`, url: `ws://10.0.${i >> 8}.${i & 255}:8080/ws`, weight: 1 + (i % 3), state: i % 100 === 0 ? 'draining' : 'active', startedAt: 1, seq: 1, acceptRate: 500 + (i % 5) * 100 });
    }
    agent = await createAgent({ id: 'node-0000', membership, host: '127.0.0.1', livenessTimeoutMs: 600_000, settleMs: 50, adminToken: TOKEN });
  });
  afterAll(async () => {
    await agent?.close();
  });

  it(`renders within ${FIRST_FRAME_MS / 1000} s (ring within ${RING_MS / 1000} s): top rows, a load histogram, an arc for every ring node`, async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` }, viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    const started = Date.now();
    await page.goto(`http://127.0.0.1:${agent.port}/fleet`);
    await page.waitForFunction(() => (globalThis as unknown as FleetGlobals).__fleet?.rings >= 1, undefined, { timeout: 60_000, polling: 50 });
    const waitedMs = Date.now() - started;
    const f = await fleet(page);
    const nav = (await page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")) as number;
    const s = await shown(page);
    const rows = await page.locator('#nodes tr[data-node]').count();
    await page.screenshot({ path: `${ARTIFACTS}fleet-page-1000.png`, fullPage: true });
    console.log(
      `1,000 nodes, from navigation on the page's clock: document ${nav.toFixed(0)} ms, first frame shown ${f.firstFrameAt.toFixed(0)} ms, ring drawn ${f.firstRingAt.toFixed(0)} ms ` +
        `(rendering a frame ${f.renderMs.toFixed(0)} ms, drawing the ring ${f.ringMs.toFixed(0)} ms; the test saw it after ${waitedMs} ms); ` +
        `screenshot ${ARTIFACTS}fleet-page-1000.png`,
    );
    expect(s.nodes).toBe(N);
    expect(s.arcs.length).toBe(agent.topology.ring.nodes.length);
    expect(new Set(s.arcs).size).toBe(991);
    expect(rows).toBe(40);
    expect(await page.locator('#load-hist rect').count()).toBe(11);
    expect(await page.textContent('#nodes-more')).toMatch(/showing 40 of 1000 nodes/);
    expect(await page.textContent('#store')).toMatch(/Known from membership only: node-0001/);
    expect(f.firstFrameAt).toBeLessThan(FIRST_FRAME_MS);
    expect(f.firstRingAt).toBeLessThan(RING_MS);
    expect(f.renderMs).toBeLessThan(2_000);
    expect(f.ringMs).toBeLessThan(4_000);
    expect(problems).toEqual([]);
    await context.close();
  });
});
