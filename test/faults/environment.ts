// What this machine offers the fault suites, decided once per file: test hosts in network namespaces (root,
// Linux, iptables) and tc netem in them. WSRING_NETNS=0 forces loopback, to run what can run there.
import { probeNetns, type NetnsSupport } from '@wsring/node-agent/testing';

/** The fault suites run with the rest of `npm test`; WSRING_FAULTS=0 leaves them out (see test/faults/README.md). */
export const faultsEnabled = process.env.WSRING_FAULTS !== '0';

async function detect(): Promise<NetnsSupport> {
  if (!faultsEnabled) return { available: false, reason: 'the fault suites are off', netem: false };
  if (process.env.WSRING_NETNS === '0') return { available: false, reason: 'turned off by WSRING_NETNS=0', netem: false };
  return probeNetns();
}

export const netns: NetnsSupport = await detect();

if (!faultsEnabled) console.log('[faults] skipped: WSRING_FAULTS=0');
else if (!netns.available) console.log(`[faults] no network namespaces (${netns.reason}): partition tests skip, the rest runs on loopback`);
else if (!netns.netem) console.log('[faults] network namespaces available; tc netem is not (kernel without sch_netem): latency goes through delay relays');
