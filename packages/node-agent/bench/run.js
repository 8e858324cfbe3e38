// npm run bench: every benchmark file in this folder, one after another, each in its own Node process
// (with --expose-gc for memory figures). Extra arguments are passed to each.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .sort();
let failed = 0;
for (const file of files) {
  const { status, signal } = spawnSync(process.execPath, ['--expose-gc', `${dir}${file}`, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (status !== 0) {
    failed++;
    console.error(`bench/${file} failed (${status ?? signal})`);
  }
}
process.exit(failed ? 1 : 0);
