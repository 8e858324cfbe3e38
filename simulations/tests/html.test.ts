// The HTML report opens in a real browser (Debian's chromium, headless) without errors and shows its charts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/command.js';

const dir = mkdtempSync(join(tmpdir(), 'wsring-sim-html-'));
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

async function report(command: string, extra: string[]): Promise<string> {
  const file = join(dir, `${command}.html`);
  const code = await main([command, ...extra, '--html', file, '--json', '--workers', '1'], { stdout: () => {}, stderr: () => {}, stderrIsTTY: false });
  expect(code).toBe(0);
  return file;
}

const cases: [string, string[], Record<string, string>][] = [
  ['plan', ['--nodes', '6', '--users', '20000', '--add', '2', '--crash', 'node-1'], { 'moved-users': 'rect.bar', 'load-per-node': 'rect.bar' }],
  ['compare', ['--nodes', '6', '--users', '20000', '--add', '1'], { 'moved-users': 'rect.bar', balance: 'rect.bar' }],
  ['storm', ['--nodes', '6', '--users', '20000', '--add', '1'], { 'reconnect-wave': 'polyline', 'arrivals-targeted': 'polyline', 'connections-lb': 'polyline' }],
];

describe.each(cases)('%s --html', (command, args, charts) => {
  it('opens without console errors and shows its SVG charts', async () => {
    const file = await report(command, args);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    for (const [id, mark] of Object.entries(charts)) {
      const svg = page.locator(`svg#${id}`);
      expect(await svg.count(), id).toBe(1);
      expect(await svg.locator(mark).count(), `${id} ${mark}`).toBeGreaterThan(0);
      const box = await svg.boundingBox();
      expect(box!.width).toBeGreaterThan(100);
      expect(box!.height).toBeGreaterThan(100);
    }
    // Self-contained: the only request is the page itself.
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
