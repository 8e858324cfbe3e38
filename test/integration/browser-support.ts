// Running the client bundle in headless Chromium: the flags, the bundle a browser app would build, and a site
// serving it with a page.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startCluster, type Cluster } from './support.js';
import type { SpawnAgentOptions } from '@wsring/node-agent/testing';

/** Debian's chromium, headless, with nothing reaching out to the network on its own. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Bundle the published package the way a browser app would: its `browser` export condition, platform browser. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    stdin: { contents: "export * from '@wsring/client';", resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  if (inputs.some((p) => p.includes('node_modules/ws/') || p.startsWith('node:'))) throw new Error(`browser bundle pulled Node code: ${inputs.join(', ')}`);
  return result.outputFiles[0].text;
}

export async function serve(bundle: string, page: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else if (path === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export interface BrowserSuite {
  readonly cluster: Cluster;
  readonly browser: Browser;
  /** The site serving `page` and the client bundle. */
  readonly url: string;
}

/**
 * Before the enclosing suite's tests: a cluster of `ids`, the client bundle served with `page`, and Chromium;
 * after them, all three stopped. Call inside `describe`; read the fields inside a test.
 */
export function browserSuite(page: string, ids: string[], flags: Partial<SpawnAgentOptions> = {}): BrowserSuite {
  let cluster: Cluster | undefined;
  let browser: Browser | undefined;
  let site: { server: Server; url: string } | undefined;
  beforeAll(async () => {
    const [bundle, started] = await Promise.all([bundleClient(), startCluster(ids, flags)]);
    cluster = started;
    site = await serve(bundle, page);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    site?.server.closeAllConnections();
    await new Promise((resolve) => site?.server.close(resolve));
    await cluster?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the browser suite starts in beforeAll; read it inside a test');
    return value;
  };
  return {
    get cluster() {
      return started(cluster);
    },
    get browser() {
      return started(browser);
    },
    get url() {
      return started(site).url;
    },
  };
}

