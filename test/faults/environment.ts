// What this machine offers the fault suites, decided once per file: test hosts in network namespaces (root,
// Linux, iptables) and tc netem in them. WSRING_NETNS=0 forces loopback, to run what can run there.
import { probeNetns, type NetnsSupport } from '@wsring/node-agent/testing';

/**
 * The fault suites run when asked (`npm run test:faults` sets WSRING_FAULTS=1): they pass here, but with the
 * harness's 1 s liveness the server-partition test depends on how fast a JetStream election is on a loaded machine
 * (seen: 14 s at load average 25), so they stay out of `npm test` until that timing is made robust.
 */
export const faultsEnabled = process.env.WSRING_FAULTS === '1';

async function detect(): Promise<NetnsSupport> {
  if (!faultsEnabled) return { available: false, reason: 'the fault suites are off', netem: false };
  if (process.env.WSRING_NETNS === '0') return { available: false, reason: 'turned off by WSRING_NETNS=0', netem: false };
  return probeNetns();
}

export const netns: NetnsSupport = await detect();

if (!faultsEnabled) console.log('[faults] skipped: npm run test:faults (WSRING_FAULTS=1) runs the NATS fault suites');
else if (!netns.available) console.log(`[faults] no network namespaces (${netns.reason}): partition tests skip, the rest runs on loopback`);
else if (!netns.netem) console.log('[faults] network namespaces available; tc netem is not (kernel without sch_netem): latency goes through delay relays');
