import {
  ApiKey,
  errorMessage,
  InvalidInputError,
  type MetadataResponse,
  type RequestTypes,
  type ResponseTypes,
} from '@barge/core';
import { clusterBrokerAddresses } from './cluster-brokers.js';
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
 * address fails it throws `BrokerUnreachableError` naming them. The list is the bootstrap
 * addresses, then the brokers of the cluster named by the latest Metadata answer that passed
 * through `request` (so a client bootstrapped from a broker that died finds the others).
 */
export class BrokerPool {
  private index = 0;
  private current: BrokerConnection | undefined;
  private closed = false;
  private readonly bootstrap: string[];
  /** Cluster brokers learnt from Metadata that are not in `bootstrap`. */
  private learnt: string[] = [];
  private readonly listeners: ((e: unknown) => void)[] = [];

  constructor(
    addresses: readonly string[],
    /** What every connection of this client is opened with (TLS, SASL, timeouts, observer). */
    readonly options: ConnectionOptions,
  ) {
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new InvalidInputError('brokers must list at least one "host:port" address');
    }
    for (const a of addresses) parseAddress(a);
    this.bootstrap = [...addresses];
  }

  /** The bootstrap broker addresses, in the order given. */
  get brokers(): readonly string[] {
    return this.bootstrap;
  }

  /** The addresses `get` tries: the bootstrap list, then the cluster brokers learnt from Metadata. */
  get addresses(): readonly string[] {
    return this.learnt.length === 0 ? this.bootstrap : [...this.bootstrap, ...this.learnt];
  }

  /** The current connection, if it is connected. */
  get connection(): BrokerConnection | undefined {
    return this.current?.connected ? this.current : undefined;
  }

  /** Replaces the learnt cluster brokers (addresses that do not parse are ignored). */
  learn(addresses: readonly string[]): void {
    this.learnt = [...new Set(addresses)].filter((a) => !this.bootstrap.includes(a) && parses(a));
  }

  /** Stops using `conn` (if it is the current connection): the next `get` starts at the next address. */
  moveOn(conn: BrokerConnection): void {
    if (this.current !== conn) return;
    this.current = undefined;
    this.index = (this.index + 1) % this.addresses.length;
    void conn.close();
  }

  /** A connected connection; an attempt to connect gives up at `deadline` (ms since the epoch). */
  async get(deadline?: number): Promise<BrokerConnection> {
    const addresses = this.addresses;
    if (this.closed) throw new ConnectionClosedError(addresses.join(','), 'the client was disconnected');
    if (this.current?.connected) return this.current;
    const errors: unknown[] = [];
    for (let i = 0; i < addresses.length; i++) {
      const address = addresses[(this.index + i) % addresses.length]!;
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
        this.index = (this.index + i) % addresses.length;
        return conn;
      } catch (e) {
        errors.push(e);
        if (!(e instanceof BrokerUnreachableError)) throw e;
      }
    }
    this.index = (this.index + 1) % addresses.length;
    if (errors.length === 1) throw errors[0];
    throw new BrokerUnreachableError(
      addresses.join(','),
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

  /** One request on the current connection (connecting first if needed); a Metadata answer teaches the cluster's brokers. */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    opts?: RequestOptions,
  ): Promise<ResponseTypes[K]> {
    const conn = await this.get();
    const response = await conn.request(apiKey, body, opts);
    if (apiKey === ApiKey.Metadata) {
      const metadata = response as MetadataResponse;
      const brokers = clusterBrokerAddresses(metadata);
      if (brokers) this.learn(brokers);
      // A clustered broker that does not list itself lost touch with its cluster (cut off from
      // Kafka, or paused past its session): its view is stale, so the next request goes elsewhere.
      if (brokers && !metadata.cluster!.brokers.some((b) => b.brokerId === metadata.brokerId))
        this.moveOn(conn);
    }
    return response;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
    this.current = undefined;
  }
}

function parses(address: string): boolean {
  try {
    parseAddress(address);
    return true;
  } catch {
    return false;
  }
}
