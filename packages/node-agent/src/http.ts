import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentMetrics } from './metrics.js';
import { topologyJson } from './topology-json.js';
import type { TopologySigner } from './topology-signer.js';
import type { AgentTopology, HealthReport } from './types.js';

export interface HttpSources {
  prefix: string;
  topology(): AgentTopology;
  health(): HealthReport;
  /** Whether /healthz should answer 503 (draining or full). */
  unhealthy(): boolean;
  metrics: AgentMetrics;
  /** Signs the served topology (topology-signer.ts); none: it goes unsigned. */
  signer?: TopologySigner;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
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
    if (route === '/topology') {
      src.metrics.topologyRequests.inc();
      json(res, 200, topologyJson(src.topology(), src.signer), CORS);
    } else if (route === '/healthz') json(res, src.unhealthy() ? 503 : 200, src.health());
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
