// Running the system tools the network harness drives (ip, iptables, tc), with their stderr in the error.
import { execFile, execFileSync } from 'node:child_process';

/** Run `command args...`; resolves with stdout, rejects with the command line and its stderr. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
  });
}

/** `run`, synchronously and never throwing: for cleanup in a process `exit` handler, where nothing async runs. */
export function runQuietlySync(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
