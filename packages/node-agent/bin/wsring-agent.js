#!/usr/bin/env node
// The `wsring-agent` command. It lives outside dist/ so that `npm ci` can link it before anything is built;
// it runs the compiled CLI (`npm run build` compiles src/ into dist/).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('wsring-agent: not built yet; run `npm run build` at the repository root first\n');
  process.exit(2);
}
await import(cli.href);
