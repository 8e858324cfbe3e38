// Test support for wsring: real nats-server processes, real agents in child processes, and a crashable line to an in-memory store.
export { freePort, startNatsCluster, startNatsServer, waitForJetStream, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { spawnAgent, type LogLine, type SpawnAgentOptions, type SpawnedAgent } from './spawn-agent.js';
export { ProcessLine } from './process-line.js';
