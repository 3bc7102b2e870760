import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { errorMessage } from '@barge/core';
import type { Registry } from 'prom-client';
import { serveDashboard } from '../dashboard/routes.js';
import { type HostPort, listenOn } from './listen.js';
import type { TlsContext } from './tls-context.js';

export type HealthStatus = 'ok' | 'starting' | 'stopping';

/**
 * The admin endpoint: `GET /health` (200 when serving, 503 otherwise), `GET /metrics`
 * (Prometheus) and the live dashboard at `GET /ui`; over HTTPS with the broker's certificate
 * when TLS is on.
 */
export class AdminServer {
  readonly #server: Server | HttpsServer;
  #address: HostPort | undefined;

  constructor(
    private readonly health: () => HealthStatus,
    private readonly registry: Registry,
    tls?: TlsContext,
  ) {
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && url === '/health') {
        const status = this.health();
        res.writeHead(status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status }));
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (e: unknown) => {
            res.writeHead(500);
            res.end(errorMessage(e));
          },
        );
        return;
      }
      if (req.method === 'GET' && url !== undefined && serveDashboard(url, this.registry, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /health, /metrics or /ui\n');
    };
    if (tls) {
      const server = createHttpsServer(tls.adminOptions(), handle);
      tls.serve(server);
      this.#server = server;
    } else {
      this.#server = createServer(handle);
    }
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  async start(listen: string): Promise<void> {
    this.#address = await listenOn(this.#server, listen);
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
