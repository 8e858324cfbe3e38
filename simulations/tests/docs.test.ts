// Help and docs agree: every option `--help` lists is documented in docs/simulator.md, and the formulas the help
// states for the pacing and backoff options are the ones the reference states.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/command.js';

const docs = readFileSync(fileURLToPath(new URL('../../docs/simulator.md', import.meta.url)), 'utf8');

async function help(command: string): Promise<string> {
  let out = '';
  expect(await main([command, '--help'], { stdout: (t) => (out += t), stderr: () => {}, stderrIsTTY: false })).toBe(0);
  return out;
}

describe('help and docs agree', () => {
  it.each(['plan', 'compare', 'storm', 'advise'])('every option of %s is documented', async (command) => {
    const text = await help(command);
    const options = [...new Set([...text.matchAll(/(?:^|[ ,])(--[a-z][a-z-]*)/gm)].map((m) => m[1]))].filter((o) => o !== '--help');
    expect(options.length).toBeGreaterThan(5);
    for (const o of options) expect(docs, o).toMatch(new RegExp(`[\`, ]${o}[ \`]`));
  });

  it('states who waits jitterMs and the backoff formula the same way', async () => {
    const text = (await help('storm')).replace(/\s+/g, ' ');
    expect(text).toContain('the sending agent holds each moved user U(0, jitterMs)');
    expect(docs).toContain('the sending agent holds each moved user U(0, jitterMs)');
    expect(text).toContain('rtt + U(0, min(cap, base * 2^n))');
    expect(docs).toContain('`rtt + U(0, min(cap, base · 2^n))`');
    expect(docs).toContain('rtt + U(0, min(backoffCapMs, backoffBaseMs · 2^n))');
  });
});
