// The `wsring-sim` command run in this process, its output captured: what the command-line tests assert on.
import { main } from '../src/command.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run `wsring-sim <argv>` (stderr not a terminal, so no progress) and return its exit code and output. */
export async function runCli(argv: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), stderrIsTTY: false });
  return { code, out, err };
}
