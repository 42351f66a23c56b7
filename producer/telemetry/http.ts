// conntrail's one HTTP endpoint, on telemetry.prometheusHost:prometheusPort
// (loopback by default; port 0: none):
//   GET /metrics   the Prometheus exposition (PrometheusExporter's handler, set
//                  by startTelemetry; 404 while telemetry is off)
//   GET /healthz   alive: 200 and a JSON body (Health.liveness())
//   GET /readyz    ready: 200, or 503 with the reasons, JSON (Health.readiness())
// `conntrail run` starts it before anything else, whether telemetry is on or
// not, so probes work with metrics off; startTelemetry starts a metrics-only
// one when it is given none (its tests, the benchmarks).
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Health } from '../health.ts';

// Required, not imported: an ESM import of node:http builds its ESM facade,
// which reads every export, among them the lazy ones (WebSocket...) that load
// undici: ~12 MiB of RSS for an endpoint that needs none of it.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface EndpointOptions {
  host: string;
  port: number;
  /** Serves /healthz and /readyz (absent: 404). */
  health?: Health;
}

export interface Endpoint {
  /** http://host:port (IPv6 hosts in brackets), no trailing slash. */
  readonly url: string;
  /** What serves /metrics (null: 404, telemetry off). */
  setMetrics(handler: RequestHandler | null): void;
  /** Stops listening and closes idle keep-alive connections. Safe to call twice. */
  close(): Promise<void>;
}

/** The endpoint could not listen (port in use, address not local...): one line for the user. */
export class EndpointError extends Error {
  override name = 'EndpointError';
  readonly userFacing = true;
}

export function hostUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}

/** Listens on host:port; throws EndpointError (`telemetry.prometheusPort <port> on <host>: <why>`). */
export async function startEndpoint(options: EndpointOptions): Promise<Endpoint> {
  const { health } = options;
  let metrics: RequestHandler | null = null;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      if (metrics) metrics(req, res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('no metrics: telemetry is off (telemetry.enabled=false or OTEL_SDK_DISABLED)\n');
    } else if (path === '/healthz' && health) {
      json(res, 200, health.liveness());
    } else if (path === '/readyz' && health) {
      const r = health.readiness();
      json(res, r.ready ? 200 : 503, r);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try ${health ? '/healthz, /readyz or /metrics' : '/metrics'}\n`);
    }
  });
  // a probe every few seconds must not keep sockets (or the process) around
  server.keepAliveTimeout = 5000;
  server.unref();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    throw new EndpointError(`telemetry.prometheusPort ${options.port} on ${options.host}: ${(e as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  return {
    url: hostUrl(options.host, port),
    setMetrics(handler) {
      metrics = handler;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
