// @wsring/ring in a real browser: bundled by esbuild for the browser (any Node built-in fails the build), served
// from a local HTTP server, and run in headless Chromium, where it must reproduce every placement vector.
import { builtinModules } from 'node:module';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build, type Plugin } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ENTRY = new URL('../src/mod.ts', import.meta.url).pathname;
const VECTORS = new URL('../../../test/vectors/placement.json', import.meta.url);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface Vectors {
  cases: {
    name: string;
    snapshot: unknown;
    fingerprint: string;
    lookups: { key: string; hash: number; owner: string }[];
    preferences: { key: string; n: number; owners: string[] }[];
  }[];
}

/** Fails the bundle on any import of a Node built-in, with or without the `node:` prefix. */
const noNodeBuiltins: Plugin = {
  name: 'no-node-builtins',
  setup(b) {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    b.onResolve({ filter: /.*/ }, (args) =>
      args.path.startsWith('node:') || builtins.has(args.path)
        ? { errors: [{ text: `${args.importer} imports the Node built-in "${args.path}"; @wsring/ring must run in browsers` }] }
        : undefined,
    );
  },
};

async function bundle(options: { entryPoints?: string[]; stdin?: { contents: string; resolveDir: string } }): Promise<string> {
  const result = await build({ ...options, bundle: true, write: false, platform: 'browser', format: 'esm', target: 'es2022', logLevel: 'silent', plugins: [noNodeBuiltins] });
  return result.outputFiles[0].text;
}

/** Runs in the page: loads the bundle as a module, computes every vector, and returns what it found. */
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
  import { loadRing } from './ring.js';
  try {
    const vectors = await (await fetch('./placement.json')).json();
    const cases = [];
    for (const c of vectors.cases) {
      const ring = await loadRing(c.snapshot);
      cases.push({
        name: c.name,
        fingerprint: ring.fingerprint,
        lookups: c.lookups.map(({ key }) => ({ key, hash: ring.hashKey(key), owner: ring.owner(key) })),
        preferences: c.preferences.map(({ key, n }) => ({ key, n, owners: ring.owners(key, n) })),
      });
    }
    window.placement = { cases };
  } catch (e) {
    window.placement = { error: String(e && e.stack || e) };
  }
</script>`;

let server: Server;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  const files = new Map<string, [string, string]>([
    ['/', ['text/html; charset=utf-8', PAGE]],
    ['/ring.js', ['text/javascript; charset=utf-8', await bundle({ entryPoints: [ENTRY] })]],
    ['/placement.json', ['application/json; charset=utf-8', await readFile(VECTORS, 'utf8')]],
  ]);
  server = createServer((req, res) => {
    const file = files.get(req.url ?? '');
    res.writeHead(file ? 200 : 404, { 'content-type': file ? file[0] : 'text/plain' }).end(file ? file[1] : 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('in headless Chromium', () => {
  it('the bundle guard rejects a Node built-in', async () => {
    for (const contents of ["import 'node:crypto';", "import { readFileSync } from 'fs'; readFileSync;"]) {
      await expect(bundle({ stdin: { contents, resolveDir: process.cwd() } })).rejects.toThrow(/Node built-in/);
    }
  });

  it('reproduces every placement vector: key hashes, owners, preference lists and fingerprints', async () => {
    const vectors = JSON.parse(await readFile(VECTORS, 'utf8')) as Vectors;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => 'placement' in window, undefined, { timeout: 30_000 });
      const found = await page.evaluate(() => (window as unknown as { placement: unknown }).placement);
      expect(errors).toEqual([]);
      expect(found).toEqual({ cases: vectors.cases.map(({ name, fingerprint, lookups, preferences }) => ({ name, fingerprint, lookups, preferences })) });
    } finally {
      await page.close();
    }
  });
});
