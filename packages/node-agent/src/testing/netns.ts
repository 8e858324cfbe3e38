// Test hosts in network namespaces: one namespace per host, each joined by a veth pair to a bridge in the test's
// own namespace, so the test process reaches every host and hosts reach each other, over real interfaces that
// iptables and tc act on. Linux and root only; `probeNetns` says whether it can work here.
import { run, runQuietlySync } from './commands.js';
import type { TestHost } from './test-host.js';

/** A test host in a namespace of its own. */
export interface NetnsHost extends TestHost {
  readonly namespace: string;
  /** Its interface inside the namespace (the veth end toward the bridge). */
  readonly device: string;
}

export interface NetnsSupport {
  /** Namespaces, veth pairs, a bridge and iptables all work. */
  available: boolean;
  /** Why not, when not. */
  reason?: string;
  /** `tc qdisc ... netem` works (the kernel has sch_netem). */
  netem: boolean;
}

// Names carry the owner's pid, so a later run can remove what a killed run left behind (and only that).
const NS_PREFIX = 'wsring-';
const LINK_PREFIX = 'wr';
const DEVICE = 'eth0';
let serial = 0;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Remove namespaces and links left by test processes that no longer run. */
export async function sweepStaleNetworks(): Promise<void> {
  const namespaces = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]);
  for (const ns of namespaces) {
    const owner = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(ns);
    if (!owner || alive(Number(owner[1]))) continue;
    // Agents and servers a killed run left running in there are that run's: they go with it.
    const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await run('ip', ['netns', 'del', ns]).catch(() => {});
  }
  const links = (await run('ip', ['-o', 'link', 'show'])).split('\n').map((l) => /^\d+: ([^:@\s]+)/.exec(l)?.[1]);
  for (const link of links) {
    const owner = link && new RegExp(`^${LINK_PREFIX}([0-9a-z]+)-[0-9a-z]+[bh]\\d*$`).exec(link);
    if (owner && !alive(parseInt(owner[1], 36))) await run('ip', ['link', 'del', link!]).catch(() => {});
  }
}

/** Whether test hosts in namespaces can be made here, and whether tc netem works in them. */
export async function probeNetns(): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { available: false, reason: `network namespaces need Linux (this is ${process.platform})`, netem: false };
  if (process.getuid?.() !== 0) return { available: false, reason: 'network namespaces need root', netem: false };
  let network: TestNetwork | undefined;
  try {
    await sweepStaleNetworks();
    network = await TestNetwork.create(['probe']);
    const host = network.host('probe');
    await run('ip', ['netns', 'exec', host.namespace, 'iptables', '-w', '-L', 'INPUT', '-n']);
    const netem = await run('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'add', 'dev', host.device, 'root', 'netem', 'delay', '1ms']).then(
      () => true,
      () => false,
    );
    return { available: true, netem };
  } catch (err) {
    return { available: false, reason: (err as Error).message, netem: false };
  } finally {
    await network?.destroy();
  }
}

/** A 10.77.N.0/24 subnet no interface of this machine uses yet. */
async function freeSubnet(): Promise<number> {
  const used = new Set([...(await run('ip', ['-4', '-o', 'addr', 'show'])).matchAll(/inet 10\.77\.(\d+)\./g)].map((m) => Number(m[1])));
  const start = (process.pid + serial) % 200;
  for (let k = 0; k < 200; k++) if (!used.has((start + k) % 200)) return (start + k) % 200;
  throw new Error('no free 10.77.N.0/24 subnet for test hosts');
}

/** Networks not destroyed yet; torn down synchronously if the process exits first. */
const undestroyed = new Set<TestNetwork>();
let exitHooked = false;

/**
 * A bridge `10.77.N.1/24` in the test's namespace and one namespace per named host at `10.77.N.10`,
 * `10.77.N.11`, ... in the order given. `destroy()` removes all of it; so does process exit.
 */
export class TestNetwork {
  private destroyed = false;

  private constructor(
    /** The test process's address on the bridge, as the hosts see it. */
    readonly gateway: string,
    private readonly bridge: string,
    private readonly hostList: readonly NetnsHost[],
    private readonly rootLinks: readonly string[],
  ) {}

  static async create(names: readonly string[]): Promise<TestNetwork> {
    const tag = `${process.pid.toString(36)}-${(++serial).toString(36)}`;
    const subnet = await freeSubnet();
    const bridge = `${LINK_PREFIX}${tag}b`;
    const hosts: NetnsHost[] = names.map((name, i) => ({
      name,
      address: `10.77.${subnet}.${10 + i}`,
      namespace: `${NS_PREFIX}${process.pid}-${serial}-${name}`,
      device: DEVICE,
      exec: ['ip', 'netns', 'exec', `${NS_PREFIX}${process.pid}-${serial}-${name}`],
    }));
    const network = new TestNetwork(
      `10.77.${subnet}.1`,
      bridge,
      hosts,
      hosts.map((_, i) => `${LINK_PREFIX}${tag}h${i}`),
    );
    undestroyed.add(network);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const n of undestroyed) n.destroySync();
      });
    }
    try {
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      await run('ip', ['addr', 'add', `${network.gateway}/24`, 'dev', bridge]);
      await run('ip', ['link', 'set', bridge, 'up']);
      for (const [i, host] of hosts.entries()) {
        const link = network.rootLinks[i];
        await run('ip', ['netns', 'add', host.namespace]);
        await run('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', DEVICE, 'netns', host.namespace]);
        await run('ip', ['link', 'set', link, 'master', bridge, 'up']);
        await run('ip', ['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', DEVICE]);
        await run('ip', ['-n', host.namespace, 'link', 'set', DEVICE, 'up']);
        await run('ip', ['-n', host.namespace, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      await network.destroy();
      throw err;
    }
    return network;
  }

  get hosts(): readonly NetnsHost[] {
    return this.hostList;
  }

  host(name: string): NetnsHost {
    const host = this.hostList.find((h) => h.name === name);
    if (!host) throw new Error(`no test host ${name} (have ${this.hostList.map((h) => h.name).join(', ')})`);
    return host;
  }

  /**
   * Remove the namespaces (with their iptables rules and qdiscs), the veth pairs and the bridge. Stop the
   * processes running in them first: a namespace with a process in it outlives `ip netns del`.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    undestroyed.delete(this);
    for (const link of this.rootLinks) await run('ip', ['link', 'del', link]).catch(() => {});
    for (const host of this.hostList) await run('ip', ['netns', 'del', host.namespace]).catch(() => {});
    await run('ip', ['link', 'del', this.bridge]).catch(() => {});
  }

  private destroySync(): void {
    this.destroyed = true;
    for (const link of this.rootLinks) runQuietlySync('ip', ['link', 'del', link]);
    for (const host of this.hostList) runQuietlySync('ip', ['netns', 'del', host.namespace]);
    runQuietlySync('ip', ['link', 'del', this.bridge]);
  }
}
