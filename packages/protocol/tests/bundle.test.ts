// The protocol runs in browsers: a browser bundle of it pulls in no Node built-in, and nothing of @wsring/ring
// at run time (the ring is only a type here).
import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('bundles for platform browser from its own sources only', async () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const result = await build({
      absWorkingDir: new URL('..', import.meta.url).pathname,
      entryPoints: ['src/mod.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [{ name: 'no-node-builtins', setup: (b) => b.onResolve({ filter: /.*/ }, (args) => (builtins.has(args.path) ? { errors: [{ text: `imports ${args.path}` }] } : undefined)) }],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.filter((p) => !p.startsWith('src/'))).toEqual([]);
  });
});
