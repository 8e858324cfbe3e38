// The browser bundle must not pull in `ws` or any Node built-in: one code path, injected WebSocket.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('bundles for platform browser without ws or Node built-ins', async () => {
    const result = await build({
      entryPoints: [new URL('../src/mod.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('ring/dist/mod.js'))).toBe(true);
    expect(inputs.filter((p) => /node_modules\/ws\//.test(p) || p.startsWith('node:'))).toEqual([]);
    const text = result.outputFiles[0].text;
    expect(text).not.toMatch(/from ["']node:|require\(["'](ws|node:|events|net|tls|http)["']\)/);
  });

  it('maps the package to the portable entry for browsers and to the ws entry for Node', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.exports['.'].browser).toEqual({ types: './dist/mod.d.ts', default: './dist/mod.js' });
    expect(pkg.exports['.'].node).toEqual({ types: './dist/node.d.ts', default: './dist/node.js' });
    // The protocol is its own package now; the client's internals have their own, unpromised entry.
    expect(pkg.exports['./protocol']).toBeUndefined();
    expect(pkg.exports['./internal'].default).toBe('./dist/internal.js');
  });
});
