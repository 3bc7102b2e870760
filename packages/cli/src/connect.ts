import { BrokerConnection } from '@barge/client';
import { parseHostPort } from './fail.js';
import { brokerSaslCredentials } from './sasl-flags.js';
import { brokerTls } from './tls-flags.js';

export const DEFAULT_BROKER = '127.0.0.1:7070';

/** The broker address from `--broker`, then `BARGE_BROKER`, then the default. */
export function brokerAddress(flag: string | undefined): string {
  const address = flag ?? process.env.BARGE_BROKER ?? DEFAULT_BROKER;
  parseHostPort(address, '--broker');
  return address;
}

export async function withConnection<T>(address: string, f: (c: BrokerConnection) => Promise<T>): Promise<T> {
  const c = new BrokerConnection(address, {
    clientId: 'barge-cli',
    connectTimeoutMs: 5000,
    requestTimeoutMs: 30_000,
    tls: brokerTls(),
    sasl: brokerSaslCredentials(),
  });
  try {
    await c.connect();
    return await f(c);
  } finally {
    await c.close();
  }
}

/** Fails fast with a one-line error when the broker cannot be reached (clients would retry). */
export async function checkReachable(address: string): Promise<void> {
  await withConnection(address, async () => {});
}
