// The browser build verifies signed topologies with Chromium's own WebCrypto (Ed25519): against real agents
// signing with --topology-key-file, a page given the fleet's key bootstraps, and follows a join on the topology
// inside its reconnect frame without fetching /topology; a page given another key trusts nothing and never connects.
import { createRing } from '@wsring/ring';
import { generateTopologyKeyPair } from '@wsring/node-agent';
import { describe, expect, it } from 'vitest';
import { browserSuite } from './browser-support.js';
import { fleetKeyFile, waitForAgreement } from './support.js';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>wsring client, signed topologies</title>
<script type="module">
  import { createClient } from '/client.js';
  const params = new URLSearchParams(location.search);
  window.wsringFetches = 0;
  const counted = (url, init) => {
    window.wsringFetches++;
    return fetch(url, init);
  };
  const client = createClient({ user: params.get('user'), bootstrap: params.get('bootstrap').split(','), topologyKey: params.get('key'), fetch: counted });
  window.wsringEvents = [];
  for (const name of ['open', 'moved', 'reconnecting', 'close', 'error']) {
    client.on(name, (payload) => window.wsringEvents.push({ name, payload: name === 'error' ? { code: payload.code, message: payload.message } : payload }));
  }
  window.wsringClient = client;
</script>`;

interface PageGlobals {
  wsringEvents: { name: string; payload: Record<string, unknown> }[];
  wsringFetches: number;
  wsringClient: { node: string | undefined; state: string; epoch: number | undefined };
}

describe('signed topologies in a real browser', () => {
  const fleet = fleetKeyFile();
  const suite = browserSuite(PAGE, ['n1', 'n2'], { topologyKeyFile: fleet.keyFile });

  const open = async (user: string, key: string) => {
    const page = await suite.browser.newPage();
    const bootstrap = suite.cluster.agents.map((a) => a.httpUrl).join(',');
    await page.goto(`${suite.url}/?user=${encodeURIComponent(user)}&bootstrap=${encodeURIComponent(bootstrap)}&key=${encodeURIComponent(key)}`);
    return page;
  };

  it('a page given another key refuses the fleet’s topologies and never connects', async () => {
    const page = await open('browser-stranger', generateTopologyKeyPair().publicKey);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.some((e) => e.name === 'error'), undefined, { timeout: 20_000 });
    const events = await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringEvents);
    expect(events[0]).toMatchObject({ name: 'error', payload: { code: 'BOOTSTRAP_FAILED' } });
    expect(String(events[0].payload.message)).toContain('not signed by the fleet key');
    expect(events.some((e) => e.name === 'open')).toBe(false);
    await page.close();
  });

  it('a page given the fleet key bootstraps, and follows a join on the signed topology in its frame, without a fetch', async () => {
    const two = await createRing([{ id: 'n1' }, { id: 'n2' }]);
    const three = two.withNodes([{ id: 'n3' }]);
    let i = 0;
    while (three.owner(`browser-signed-${i}`) !== 'n3') i++;
    const user = `browser-signed-${i}`;
    const page = await open(user, fleet.publicKey);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.some((e) => e.name === 'open'), undefined, { timeout: 20_000 });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringClient.node)).toBe(two.owner(user));
    const fetchesBefore = await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringFetches);

    await suite.cluster.add('n3');
    const after = await waitForAgreement(suite.cluster.agents, 3);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.filter((e) => e.name === 'open').length === 2, undefined, { timeout: 20_000 });
    const events = await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringEvents);
    expect(events.map((e) => e.name)).toEqual(['open', 'moved', 'open']);
    expect(events[1].payload).toEqual({ from: two.owner(user), to: 'n3', reason: 'reconnect' });
    // The page holds the new epoch, and got it from the frame: verified in the page, no /topology request.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringClient.epoch)).toBe(after.topology.epoch);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringFetches)).toBe(fetchesBefore);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
