import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROTOCOL_VERSION, type Topology } from '@wsring/client/protocol';
import type { AgentMetrics } from './metrics.js';
import type { AgentTopology, HealthReport } from './types.js';

export interface HttpSources {
  prefix: string;
  topology(): AgentTopology;
  health(): HealthReport;
  /** Whether /healthz should answer 503 (draining or full). */
  unhealthy(): boolean;
  metrics: AgentMetrics;
}

export function topologyBody(t: AgentTopology): Topology {
  return { protocol: PROTOCOL_VERSION, epoch: t.epoch, fingerprint: t.fingerprint, ring: t.ring.toJSON(), nodes: t.nodes };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

// Clients bootstrap from /topology, often all at once after a wave of reconnects: serialize each topology once.
const serialized = new WeakMap<AgentTopology, string>();
function topologyJson(t: AgentTopology): string {
  let text = serialized.get(t);
  if (text === undefined) {
    text = JSON.stringify(topologyBody(t));
    serialized.set(t, text);
  }
  return text;
}

// Browsers fetch /topology from pages served elsewhere.
const CORS = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS' };

/**
 * Serves GET /topology, /healthz and /metrics under `prefix`. Returns false for any other request,
 * leaving it to the application.
 */
export function createHttpHandler(src: HttpSources): (req: IncomingMessage, res: ServerResponse) => boolean {
  const routes = new Set(['/topology', '/healthz', '/metrics'].map((p) => src.prefix + p));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!routes.has(path)) return false;
    const route = path.slice(src.prefix.length);
    if (req.method === 'OPTIONS' && route === '/topology') {
      res.writeHead(204, CORS);
      res.end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
      return true;
    }
    if (route === '/topology') json(res, 200, topologyJson(src.topology()), CORS);
    else if (route === '/healthz') json(res, src.unhealthy() ? 503 : 200, src.health());
    else {
      src.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': src.metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => json(res, 500, { error: String(err) }),
      );
    }
    return true;
  };
}
