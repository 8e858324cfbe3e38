// The HTML report opens in a real browser (Debian's chromium, headless) without errors and shows its charts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/command.js';

const dir = mkdtempSync(join(tmpdir(), 'wsring-sim-html-'));
/** Screenshots of the example scenarios' reports, kept for people to look at (gitignored). */
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const scenarios = fileURLToPath(new URL('../scenarios/', import.meta.url));
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function report(command: string, extra: string[], name = command): Promise<string> {
  const file = join(dir, `${name}.html`);
  const code = await main([command, ...extra, '--html', file, '--json', '--workers', '1'], { stdout: () => {}, stderr: () => {}, stderrIsTTY: false });
  expect(code).toBe(0);
  return file;
}

const cases: [string, string[], Record<string, string>][] = [
  ['plan', ['--nodes', '6', '--users', '20000', '--add', '2', '--crash', 'node-1'], { 'moved-users': 'rect.bar', 'load-per-node': 'rect.bar', 'balance-per-step': 'rect.bar', 'flows-0': 'rect.cell', 'flows-1': 'rect.cell' }],
  ['compare', ['--nodes', '6', '--users', '20000', '--add', '1'], { 'moved-users': 'rect.bar', balance: 'rect.bar', 'imbalance-over-time': 'polyline', 'during-ring': 'polyline', 'during-least-connections': 'polyline' }],
  ['storm', ['--nodes', '6', '--users', '20000', '--add', '1'], { 'reconnect-wave': 'polyline', 'arrivals-targeted': 'polyline', 'connections-lb': 'polyline' }],
  ['advise', ['--nodes', '6', '--users', '20000', '--add', '1', '--drain', 'node-2'], {}],
];

/** Text of an SVG that sticks out of its viewport (compared as rendered boxes), as "chart: text" lines. */
async function clippedText(page: Page): Promise<string[]> {
  // A script string: the test project compiles without the DOM library.
  return page.evaluate(`(() => {
    const out = [];
    for (const svg of document.querySelectorAll('svg')) {
      const box = svg.getBoundingClientRect();
      for (const t of svg.querySelectorAll('text')) {
        const r = t.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) out.push(svg.id + ': ' + t.textContent);
      }
    }
    return out;
  })()`);
}

/** Opens a report, fails on console errors, warnings, failed or outside requests; checks no text is clipped. */
async function open(file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  expect(await clippedText(page)).toEqual([]);
  return { page, errors, requests };
}

describe.each([
  // black-friday sets its accept rate; rolling-deploy takes the default, the agent's acceptRate.
  ['black-friday', 'black-friday.yaml', '2,000'],
  ['rolling-deploy', 'rolling-deploy.yaml', '1,000'],
])('storm --html of the %s scenario', (name, scenario, accept) => {
  it('draws the accept rate on the arrival charts, marks the seconds past it, shows the joining nodes; screenshot saved', async () => {
    const file = await report('storm', ['--scenario', join(scenarios, scenario)], `storm-${name}`);
    const { page, errors } = await open(file);
    for (const mode of ['targeted', 'lb']) {
      const chart = page.locator(`svg#arrivals-${mode}`);
      expect(await chart.locator('line.accept-rate').count(), mode).toBeGreaterThan(0);
      expect(await chart.locator('text.limit-label').first().textContent()).toContain(`accept rate ${accept}/s`);
    }
    // The balancer overloads every node in both scenarios: its seconds past the accept rate are marked.
    expect(await page.locator('svg#arrivals-lb circle.over').count()).toBeGreaterThan(0);
    expect(await page.locator('p.warn').count()).toBeGreaterThan(0);
    expect(await page.locator('svg#reconnect-wave text.axis').allTextContents()).toContain('attempts / s (log scale)');
    if (name === 'black-friday') {
      // 44 nodes, 10 drawn: the four that join are always among them.
      const legend = (await page.locator('svg#arrivals-targeted text.legend').allTextContents()).join(' ');
      for (const id of ['node-40', 'node-41', 'node-42', 'node-43']) expect(legend).toContain(`${id} (joins)`);
    }
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, `storm-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('plan --html', () => {
  it('a rolling deploy: a row, a bar and loads for every step, flows as a matrix, no label clipped; screenshot saved', async () => {
    const file = await report('plan', ['--scenario', join(scenarios, 'rolling-deploy.yaml')], 'plan-rolling-deploy');
    const { page, errors } = await open(file);
    // 12 nodes, two steps each, and the start: 25 points per node; the node being deployed drops to 0.
    expect(await page.locator('svg#moved-users rect.bar').count()).toBe(2 * 24);
    expect(await page.locator('svg#loads-per-step polyline').count()).toBe(12);
    expect(await page.locator('svg#flows-0 rect.cell:not(.empty)').count()).toBeGreaterThan(12);
    expect(await page.locator('svg#balance-per-step rect.bar').count()).toBe(3 * 24);
    expect(await page.locator('table').first().locator('tbody tr').count()).toBe(24);
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, 'plan-rolling-deploy.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('1,000 nodes: a histogram of load against fair share instead of 1,004 bars, the largest flows as a table', async () => {
    const file = await report('plan', ['--nodes', '1000', '--users', '200k', '--add', '4'], 'plan-1000');
    const { page, errors } = await open(file);
    expect(await page.locator('svg#load-per-node').count()).toBe(0);
    const bars = await page.locator('svg#load-histogram rect.bar').count();
    expect(bars).toBeGreaterThan(0);
    expect(bars).toBeLessThanOrEqual(10);
    expect(await page.locator('text=the 20 largest of').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe.each(cases)('%s --html', (command, args, charts) => {
  it('opens without console errors and shows its SVG charts', async () => {
    const file = await report(command, args);
    const { page, errors, requests } = await open(file);
    for (const [id, mark] of Object.entries(charts)) {
      const svg = page.locator(`svg#${id}`);
      expect(await svg.count(), id).toBe(1);
      expect(await svg.locator(mark).count(), `${id} ${mark}`).toBeGreaterThan(0);
      const box = await svg.boundingBox();
      expect(box!.width).toBeGreaterThan(100);
      expect(box!.height).toBeGreaterThan(100);
    }
    if (command === 'advise') expect(await page.locator('table').count()).toBeGreaterThan(0);
    // Self-contained: the only request is the page itself.
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
