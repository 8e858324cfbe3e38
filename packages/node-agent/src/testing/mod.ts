// Test support for wsring: real nats-server processes and real agents in child processes.
export { freePort, startNatsCluster, startNatsServer, waitForJetStream, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { spawnAgent, type LogLine, type SpawnAgentOptions, type SpawnedAgent } from './spawn-agent.js';
