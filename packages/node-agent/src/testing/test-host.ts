// Where a test process runs: its own network namespace (a test host with an address of its own) or loopback.

export interface TestHost {
  /** Short name, for logs and figures. */
  readonly name: string;
  /** The address processes on this host listen on and are reached at. */
  readonly address: string;
  /** Command prefix that runs a program on this host: `[]` on loopback, `['ip', 'netns', 'exec', <ns>]` in a namespace. */
  readonly exec: readonly string[];
}

/** Every process on 127.0.0.1 of the test's own network namespace. */
export const LOOPBACK: TestHost = Object.freeze({ name: 'loopback', address: '127.0.0.1', exec: Object.freeze([]) as readonly string[] });

/** `command args` as run on `host`: the file to spawn and its arguments. */
export function onHost(host: TestHost, command: string, args: readonly string[]): { file: string; args: string[] } {
  return host.exec.length === 0 ? { file: command, args: [...args] } : { file: host.exec[0], args: [...host.exec.slice(1), command, ...args] };
}
