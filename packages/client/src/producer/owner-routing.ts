import { ErrorCode } from '@barge/core';
import type { BrokerPool } from '../broker-pool.js';
import {
  BrokerConnection,
  BrokerUnreachableError,
  ConnectionClosedError,
  RequestTimeoutError,
} from '../connection.js';
import type { WritePartition } from './target.js';
import type { TopicMetadata } from './topic-metadata.js';

/**
 * Largest backoff before resending a request whose write partition's owner moved or is gone:
 * the new owner is usually known within a session timeout, and each retry costs one Metadata
 * request at most (refreshes are spaced) and one connection attempt.
 */
export const MOVING_OWNER_MAX_BACKOFF_MS = 1000;

/** The broker error code of a failure, matched by value (errors cross package copies). */
function errorCodeOf(e: unknown): number | undefined {
  const code = (e as { errorCode?: unknown } | null)?.errorCode;
  return typeof code === 'number' ? code : undefined;
}

/** The broker answered `NOT_OWNER`: it does not own the write partition (now); nothing was acknowledged. */
export function isNotOwner(e: unknown): boolean {
  return errorCodeOf(e) === ErrorCode.NOT_OWNER;
}

/** The broker a request went to is gone or going: unreachable, disconnected, silent or stopping. */
function isBrokerGone(e: unknown): boolean {
  return (
    e instanceof BrokerUnreachableError ||
    e instanceof ConnectionClosedError ||
    e instanceof RequestTimeoutError ||
    errorCodeOf(e) === ErrorCode.SHUTTING_DOWN
  );
}

/**
 * Where each Produce request goes: to the broker that owns its write partition (`OwnerTable`,
 * from Metadata v2), over a connection per broker opened on first use with the client's
 * connection options (TLS, SASL), or over the bootstrap pool's connection when no owner is
 * known (no cluster, one broker, `NO_OWNER`). When an answer says the owners moved, the
 * topic's owners are forgotten and its metadata asked again.
 */
export class OwnerRouting {
  private readonly connections = new Map<string, BrokerConnection>();
  private closed = false;

  constructor(
    private readonly pool: BrokerPool,
    private readonly metadata: TopicMetadata,
  ) {}

  /** The connection to send a request for `partition` on; waits for a refresh of its topic that is under way. */
  async connectionFor({ topic, writePartition }: WritePartition): Promise<BrokerConnection> {
    const refresh = this.metadata.refreshing(topic);
    if (refresh) await refresh;
    const owner = this.metadata.owners.ownerOf(topic, writePartition);
    if (owner === undefined || this.closed) return this.pool.get();
    const pooled = this.pool.connection;
    if (pooled?.address === owner) return pooled;
    let conn = this.connections.get(owner);
    if (conn === undefined) {
      conn = new BrokerConnection(owner, this.pool.options);
      this.connections.set(owner, conn);
    }
    return conn;
  }

  /**
   * Told of a failed request for `topic`. `NOT_OWNER`, or (in a cluster) a broker that is gone,
   * means the owners may have moved: they are forgotten and the topic's metadata is refreshed.
   * Returns whether that is the case.
   */
  failed(topic: string, error: unknown): boolean {
    const moved = isNotOwner(error) || (this.metadata.owners.routes && isBrokerGone(error));
    if (moved && !this.closed) {
      this.metadata.owners.forget(topic);
      void this.metadata.refresh(topic);
    }
    return moved;
  }

  /** Closes the connections to owners (the pool's connection is the pool's). */
  async close(): Promise<void> {
    this.closed = true;
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((c) => c.close()));
  }
}
