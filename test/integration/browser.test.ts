// The client bundle in headless Chromium, against real agents: it connects to its owner, a 4th agent joins,
// and the page's client gets a targeted reconnect and lands on the new owner.
import { createRing } from '@wsring/ring';
import { createPublisher } from '@wsring/node-agent';
import { describe, expect, it } from 'vitest';
import { browserSuite } from './browser-support.js';
import { health, waitForAgreement, waitUntil } from './support.js';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>wsring client</title>
<script type="module">
  import { createClient } from '/client.js';
  const params = new URLSearchParams(location.search);
  const client = createClient({ user: params.get('user'), bootstrap: params.get('bootstrap').split(',') });
  window.wsringEvents = [];
  for (const name of ['open', 'moved', 'reconnecting', 'close', 'error', 'message']) {
    client.on(name, (payload) => window.wsringEvents.push({ name, payload: name === 'error' ? { code: payload.code } : payload }));
  }
  window.wsringClient = client;
</script>`;

interface PageEvent {
  name: string;
  payload: Record<string, unknown>;
}

/** What the page puts on its global object (read inside page.evaluate, where `globalThis` is the window). */
interface PageGlobals {
  wsringEvents: PageEvent[];
  wsringClient: { node: string | undefined; state: string; sessionId: string | undefined };
}

describe('client in a real browser', () => {
  const suite = browserSuite(PAGE, ['n1', 'n2', 'n3']);

  it('receives a targeted reconnect when a node joins and lands on its new owner', async () => {
    // A user that n4 will own once it joins (placement depends on ids and weights only).
    const three = await createRing([{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }]);
    const four = three.withNodes([{ id: 'n4' }]);
    let i = 0;
    while (four.owner(`browser-${i}`) !== 'n4') i++;
    const user = `browser-${i}`;
    const from = three.owner(user);

    const page = await suite.browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const bootstrap = suite.cluster.agents.map((a) => a.httpUrl).join(',');
    await page.goto(`${suite.url}/?user=${encodeURIComponent(user)}&bootstrap=${encodeURIComponent(bootstrap)}`);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.some((e) => e.name === 'open'), undefined, { timeout: 20_000 });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringClient.node)).toBe(from);

    await suite.cluster.add('n4');
    const after = await waitForAgreement(suite.cluster.agents, 4);
    expect(after.ring.owner(user)).toBe('n4');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.filter((e) => e.name === 'open').length === 2, undefined, {
      timeout: 20_000,
    });

    const events = await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringEvents);
    expect(events.map((e) => e.name)).toEqual(['open', 'moved', 'open']);
    expect(events[1].payload).toEqual({ from, to: 'n4', reason: 'reconnect' });
    expect(events[2].payload).toEqual(expect.objectContaining({ node: 'n4', standIn: false }));
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringClient.state)).toBe('open');
    // The agents agree: the page's socket is the one connection n4 holds, and the old owner let it go.
    const n4 = suite.cluster.agents.find((a) => a.id === 'n4')!;
    expect((await health(n4)).body.connections).toBe(1);
    const old = suite.cluster.agents.find((a) => a.id === from)!;
    await waitUntil(async () => (await health(old)).body.connections === 0, 10_000, `${from} to release the page's old socket`);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('two pages of the same user: both open on the user\'s node as two sessions, each gets every message once, in order', async () => {
    const user = 'two-tabs';
    const bootstrap = suite.cluster.agents.map((a) => a.httpUrl).join(',');
    const pages = [await suite.browser.newPage(), await suite.browser.newPage()];
    const pageErrors: string[] = [];
    for (const page of pages) {
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${suite.url}/?user=${encodeURIComponent(user)}&bootstrap=${encodeURIComponent(bootstrap)}`);
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.some((e) => e.name === 'open'), undefined, { timeout: 20_000 });
    }
    const opened = await Promise.all(pages.map((page) => page.evaluate(() => (globalThis as unknown as PageGlobals).wsringClient)));
    expect(opened[0].node).toBe(opened[1].node);
    expect(opened[0].sessionId).toBeTruthy();
    expect(opened[1].sessionId).toBeTruthy();
    expect(opened[0].sessionId).not.toBe(opened[1].sessionId);
    const node = suite.cluster.agents.find((a) => a.id === opened[0].node)!;
    // The node counts two sessions of one user: one more session than users.
    const { body } = await health(node);
    expect(body.connections - body.users).toBeGreaterThanOrEqual(1);

    const publisher = await createPublisher({ nats: { servers: suite.cluster.nats.url } });
    try {
      for (let n = 0; n < 5; n++) await publisher.publish(user, { n });
    } finally {
      await publisher.close();
    }
    for (const page of pages) {
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).wsringEvents.filter((e) => e.name === 'message').length >= 5, undefined, { timeout: 20_000 });
    }
    for (const page of pages) {
      const events = await page.evaluate(() => (globalThis as unknown as PageGlobals).wsringEvents);
      expect(events.filter((e) => e.name === 'message').map((e) => (e.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
      // Neither page was closed or sent elsewhere by the other's arrival.
      expect(events.map((e) => e.name).filter((name) => name !== 'message')).toEqual(['open']);
    }
    expect(pageErrors).toEqual([]);
    for (const page of pages) await page.close();
  });
});
