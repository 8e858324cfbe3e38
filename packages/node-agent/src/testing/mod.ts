// Test support for wsring: real nats-server processes (alone or as a JetStream cluster from config files), real
// agents in child processes, test hosts in network namespaces with partitions and latency, and a crashable line
// to an in-memory store.
export { freePort, startNatsCluster, startNatsServer, waitForJetStream, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { NatsCluster, type ClusterServer, type LeaderChange, type NatsClusterOptions } from './nats-cluster.js';
export { createReplicatedStores, type ReplicatedStores, type ReplicatedStoresOptions } from './replicated-stores.js';
export { spawnAgent, type LogLine, type SpawnAgentOptions, type SpawnedAgent } from './spawn-agent.js';
export { LOOPBACK, onHost, type TestHost } from './test-host.js';
export { probeNetns, sweepStaleNetworks, TestNetwork, type NetnsHost, type NetnsSupport } from './netns.js';
export { addLatency, partition, type NetworkFault } from './network-faults.js';
export { startDelayRelay, startDelayRelays, type DelayRelay, type DelayRelays } from './delay-relay.js';
export { HeartbeatCounter } from './heartbeat-counter.js';
export { readUserMessages, type StoredMessage } from './user-messages.js';
export { ProcessLine } from './process-line.js';
