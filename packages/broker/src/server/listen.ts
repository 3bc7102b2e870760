import type { Server as HttpServer } from 'node:http';
import type { Server as TcpServer } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port` (the host may be an IPv6 address: the port follows the last colon). */
export function parseHostPort(s: string): HostPort {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** Starts `server` listening on `listen`; resolves with the bound address (useful with port 0). */
export async function listenOn(server: TcpServer | HttpServer, listen: string): Promise<HostPort> {
  const { host, port } = parseHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
}
