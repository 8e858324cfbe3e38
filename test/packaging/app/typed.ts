// Type-checked (tsc, strict, NodeNext) in the fresh app against the installed declarations, library checks on.
import { createServer } from 'node:http';
import { createClient, CloseCode, type WsringClient } from '@wsring/client';
import { backoffDelay } from '@wsring/client/internal';
import { createAgent, MemoryMembership, type Agent, type AgentOptions } from '@wsring/node-agent';
import { startNatsServer } from '@wsring/node-agent/testing';
import { decodeServerFrame, type ServerFrame } from '@wsring/protocol';
import { createRing, type Ring } from '@wsring/ring';
import { runPlan, type PlanInput } from '@wsring/sim';

const options: AgentOptions = { id: 'a', membership: new MemoryMembership(), server: createServer() };
export const agent: Promise<Agent> = createAgent(options);
export const client: WsringClient = createClient({ user: 'u', bootstrap: ['http://127.0.0.1:1'] });
export const code: number = CloseCode.MOVED;
export const frame: (text: string) => ServerFrame = decodeServerFrame;
export const ring: Promise<Ring> = createRing([{ id: 'a' }]);
export const plan: typeof runPlan = runPlan;
export type Input = PlanInput;
export const nats: typeof startNatsServer = startNatsServer;
export const delay: typeof backoffDelay = backoffDelay;
