import {
  type ApiKey,
  errorMessage,
  InvalidInputError,
  type RequestTypes,
  type ResponseTypes,
} from '@barge/core';
import {
  BrokerConnection,
  BrokerUnreachableError,
  ConnectionClosedError,
  type ConnectionOptions,
  parseAddress,
  type RequestOptions,
} from './connection.js';
import { backoffMs, type ResolvedRetry, sleep } from './retry.js';

/** How `BrokerPool.connect` tries. */
export interface ConnectPolicy {
  /** `connect` fails after this long (the client's `connectionTimeout`). */
  timeoutMs: number;
  /** Backoff between attempts; `retries` bounds them too. */
  retry: ResolvedRetry;
  /** Called before each retry (`retry` 0 is the first). */
  onRetry?: (error: unknown, retry: number, delayMs: number) => void;
}

/** `connect` makes no attempt with less time than this left. */
const MIN_ATTEMPT_MS = 100;

/**
 * A connection to the first reachable broker of a list. `get()` returns a connected
 * `BrokerConnection`, moving on to the next address when one is unreachable; when every
 * address fails it throws `BrokerUnreachableError` naming them.
 */
export class BrokerPool {
  private index = 0;
  private current: BrokerConnection | undefined;
  private closed = false;
  private readonly addresses: string[];
  private readonly listeners: ((e: unknown) => void)[] = [];

  constructor(
    addresses: readonly string[],
    private readonly options: ConnectionOptions,
  ) {
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new InvalidInputError('brokers must list at least one "host:port" address');
    }
    for (const a of addresses) parseAddress(a);
    this.addresses = [...addresses];
  }

  /** The broker addresses, in the order given. */
  get brokers(): readonly string[] {
    return this.addresses;
  }

  /** A connected connection; an attempt to connect gives up at `deadline` (ms since the epoch). */
  async get(deadline?: number): Promise<BrokerConnection> {
    if (this.closed) throw new ConnectionClosedError(this.addresses.join(','), 'the client was disconnected');
    if (this.current?.connected) return this.current;
    const errors: unknown[] = [];
    for (let i = 0; i < this.addresses.length; i++) {
      const address = this.addresses[(this.index + i) % this.addresses.length]!;
      let conn = this.current;
      if (!conn || conn.address !== address) {
        conn = new BrokerConnection(address, this.options);
        conn.onClose((e) => {
          if (this.current === conn) for (const l of this.listeners) l(e);
        });
      }
      try {
        await conn.connect(deadline);
        if (this.current && this.current !== conn) void this.current.close();
        this.current = conn;
        this.index = (this.index + i) % this.addresses.length;
        return conn;
      } catch (e) {
        errors.push(e);
        if (!(e instanceof BrokerUnreachableError)) throw e;
      }
    }
    this.index = (this.index + 1) % this.addresses.length;
    if (errors.length === 1) throw errors[0];
    throw new BrokerUnreachableError(
      this.addresses.join(','),
      `cannot connect to any broker: ${errors.map((e) => errorMessage(e).replace(/^cannot connect to broker /, '')).join('; ')}`,
      { cause: errors[0] },
    );
  }

  /**
   * Connects to a broker of the list, retrying unreachable ones with the policy's backoff, and
   * fails with `BrokerUnreachableError` naming the addresses once `timeoutMs` has passed (or the
   * retries ran out). Other errors (e.g. no common api version) fail at once.
   */
  async connect(policy: ConnectPolicy): Promise<BrokerConnection> {
    const started = Date.now();
    const deadline = started + policy.timeoutMs;
    for (let retry = 0; ; retry++) {
      try {
        return await this.get(deadline);
      } catch (e) {
        if (!(e instanceof BrokerUnreachableError) || this.closed) throw e;
        // The last wait is cut short so that one more attempt (of at least MIN_ATTEMPT_MS) fits.
        const delay = Math.min(backoffMs(retry, policy.retry), deadline - Date.now() - MIN_ATTEMPT_MS);
        if (retry >= policy.retry.retries || delay < 0) {
          const attempts = `${retry + 1} attempt${retry === 0 ? '' : 's'}`;
          throw new BrokerUnreachableError(
            e.address,
            `${e.message} (${attempts} in ${Date.now() - started} ms; connectionTimeout ${policy.timeoutMs} ms)`,
            { cause: e },
          );
        }
        policy.onRetry?.(e, retry, delay);
        await sleep(delay);
      }
    }
  }

  /** Called when the current connection closes. */
  onClose(listener: (e: unknown) => void): void {
    this.listeners.push(listener);
  }

  /** One request on the current connection (connecting first if needed). */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    opts?: RequestOptions,
  ): Promise<ResponseTypes[K]> {
    const conn = await this.get();
    return conn.request(apiKey, body, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
    this.current = undefined;
  }
}
