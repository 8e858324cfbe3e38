// Network faults on test hosts in namespaces: a partition (iptables DROP) and added latency (tc netem). Both live
// in the host's namespace, so destroying the namespace removes them too; `heal()` removes them earlier.
import { run } from './commands.js';
import type { NetnsHost } from './netns.js';
import type { TestHost } from './test-host.js';

export interface NetworkFault {
  readonly description: string;
  /** Undo the fault; a second call does nothing. */
  heal(): Promise<void>;
}

const inNamespace = (host: NetnsHost, command: string, args: string[]) => run('ip', ['netns', 'exec', host.namespace, command, ...args]);

/**
 * Cut `host` off from every address of `peers`, both ways: packets are dropped, not refused, as when a link
 * or a switch fails, so TCP connections hang until their own timeouts notice. Everything else still flows.
 */
export async function partition(host: NetnsHost, peers: readonly TestHost[]): Promise<NetworkFault> {
  const addresses = [...new Set(peers.map((p) => p.address))];
  const rules = addresses.flatMap((a) => [
    ['INPUT', '-s', a, '-j', 'DROP'],
    ['OUTPUT', '-d', a, '-j', 'DROP'],
  ]);
  const added: string[][] = [];
  const heal = async () => {
    while (added.length) await inNamespace(host, 'iptables', ['-w', '-D', ...added.pop()!]);
  };
  try {
    for (const rule of rules) {
      await inNamespace(host, 'iptables', ['-w', '-I', ...rule]);
      added.push(rule);
    }
  } catch (err) {
    await heal();
    throw err;
  }
  return { description: `${host.name} cut off from ${peers.map((p) => p.name).join(', ')}`, heal };
}

/** Delay every packet `host` sends by `ms` (tc netem on its interface). Needs a kernel with sch_netem. */
export async function addLatency(host: NetnsHost, ms: number): Promise<NetworkFault> {
  await inNamespace(host, 'tc', ['qdisc', 'add', 'dev', host.device, 'root', 'netem', 'delay', `${ms}ms`]);
  let healed = false;
  return {
    description: `${host.name} sends ${ms} ms late (netem)`,
    async heal() {
      if (healed) return;
      healed = true;
      await inNamespace(host, 'tc', ['qdisc', 'del', 'dev', host.device, 'root']);
    },
  };
}
