import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

describe('README example', () => {
  it('examples/embedded.js runs: the user that moves to the joining node is welcomed there', async () => {
    const script = fileURLToPath(new URL('../examples/embedded.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 30_000 });
    expect(stdout).toMatch(/type: 'reconnect',\s+node: 'c'/);
    expect(stdout).toMatch(/type: 'welcome',\s+node: 'c'/);
    expect(stdout).toMatch(/rebalanced: epoch \d+ moved 1/);
  });
});
