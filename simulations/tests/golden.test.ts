// Golden files for the text and JSON output of a fixed-seed scenario. Wall-clock figures are left out (--no-timing)
// or masked. To accept a deliberate change of output: UPDATE_GOLDEN=1 npx vitest run tests/golden.test.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/command.js';

const dir = fileURLToPath(new URL('./golden/', import.meta.url));
const scenario = `${dir}scenario.yaml`;

async function run(argv: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), stderrIsTTY: false });
  expect(err).toBe('');
  expect(code).toBe(0);
  return out;
}

/** Replaces wall-clock figures, which differ on every run, with a fixed mark. */
function maskTiming(json: string): string {
  const report = JSON.parse(json);
  if (report.timing) report.timing = 'masked';
  for (const s of report.strategies ?? []) s.timeMs = 'masked';
  return `${JSON.stringify(report, null, 2)}\n`;
}

function golden(name: string, actual: string): void {
  const path = `${dir}${name}`;
  if (process.env.UPDATE_GOLDEN || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe.each(['plan', 'compare', 'storm', 'advise'])('%s output of the golden scenario', (command) => {
  it('text', async () => {
    golden(`${command}.txt`, await run([command, '--scenario', scenario, '--no-timing', '--workers', '1']));
  });

  it('JSON', async () => {
    golden(`${command}.json`, maskTiming(await run([command, '--scenario', scenario, '--json', '--workers', '1'])));
  });
});

// The pacing of the agents before receiver budgets, still selectable for comparison: pinned too.
describe.each(['storm', 'advise'])('%s output of the golden scenario under per-sender pacing', (command) => {
  it('text', async () => {
    golden(`${command}-per-sender.txt`, await run([command, '--scenario', scenario, '--policy', 'per-sender', '--no-timing', '--workers', '1']));
  });
});
