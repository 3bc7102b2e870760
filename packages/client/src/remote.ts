import {
  ApiKey,
  type BatchPointer,
  BrokerResponseError,
  type CommitPosition,
  ErrorCode,
  GroupRebalanceError,
  type GroupState,
  MAX_FETCH_WAIT_MS,
  type MetadataResponse,
  type PointerConsumer,
  type PointerRecord,
  type RevokeListener,
  type SubscribeOptions,
} from '@barge/core';
import type { ObjectSource } from './batch-reader.js';
import { BrokerPool } from './broker-pool.js';
import { DEFAULT_CONNECTION_TIMEOUT_MS } from './client-options.js';
import { ConnectionClosedError, type ConnectionObserver } from './connection.js';
import { ReadWindow } from './read-window.js';
import { isRetryableFailure, type ResolvedRetry, resolveRetry, withRetry } from './retry.js';
import type { SaslCredentials } from './sasl-client.js';
import type { ClientTlsOptions } from './tls.js';
import type { PointerSource } from './types.js';

function isRebalance(e: unknown): boolean {
  return (
    e instanceof BrokerResponseError &&
    (e.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || e.errorCode === ErrorCode.UNKNOWN_MEMBER)
  );
}

function isUnknownMember(e: unknown): boolean {
  return e instanceof BrokerResponseError && e.errorCode === ErrorCode.UNKNOWN_MEMBER;
}

/**
 * Reads batch objects through the broker's read proxy (ReadObject), in ranges of at most
 * `maxReadBytes`; the requests in flight are bounded by a `ReadWindow` (one at a time while the
 * broker throttles the read quota).
 */
export class ProxyObjectSource implements ObjectSource {
  readonly #window = new ReadWindow();

  constructor(
    private readonly pool: BrokerPool,
    readonly maxReadBytes: number,
  ) {}

  async readRange(pointer: BatchPointer, offset: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    // The broker may return less than asked (its frame limit); ask for the rest.
    while (got < length) {
      const asked = Math.min(length - got, 0xfffffffe);
      const body = { key: pointer.storage.key, offset: offset + got, length: asked };
      const r = await this.#window.run(Math.min(asked, this.maxReadBytes), () =>
        this.pool.request(ApiKey.ReadObject, body),
      );
      if (r.data.length === 0) break; // end of object
      parts.push(r.data);
      got += r.data.length;
      if (offset + got >= r.objectSize) break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }
}

export interface RemoteOptions {
  /** Heartbeat period. Default min(3,000, sessionTimeoutMs / 3). */
  heartbeatIntervalMs?: number;
  /** Extra time allowed for a response beyond a long poll's wait. Default 30,000 ms. */
  requestTimeoutMs?: number;
  retry?: ResolvedRetry;
  /** Told of every join of the group: the first, and again after the member was lost. */
  onJoin?: (join: GroupJoin) => void;
}

/** A member joined its group. */
export interface GroupJoin {
  readonly group: string;
  readonly topic: string;
  readonly memberId: string;
  readonly assignment: readonly number[];
  readonly durationMs: number;
}

/** Pointers served by the broker's consumer groups (JoinGroup, FetchPointers, CommitOffsets, …). */
export class RemotePointerSource implements PointerSource {
  private readonly retry: ResolvedRetry;

  constructor(
    private readonly pool: BrokerPool,
    private readonly options: RemoteOptions = {},
  ) {
    this.retry = options.retry ?? resolveRetry();
  }

  async subscribe(options: SubscribeOptions): Promise<RemotePointerConsumer> {
    const c = new RemotePointerConsumer(this.pool, options, this.options);
    await c.join();
    return c;
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    const r = await withRetry(
      () => this.pool.request(ApiKey.OffsetForTimestamp, { topic, partition, timestamp }),
      this.retry,
    );
    return r.offset;
  }

  async watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return withRetry(() => this.pool.request(ApiKey.Watermarks, { topic, partition }), this.retry);
  }
}

/**
 * A `PointerConsumer` (core contract) over the broker protocol. Heartbeats run on a timer, so a
 * member whose application takes long to process a batch keeps its partitions. When the
 * connection drops or the broker forgets the member (session expired), it joins again: the
 * broker then starts the partitions at their committed positions. Partitions the broker lists
 * as `revoking` go to the `onRevoke` listeners, then back to the broker as `released`.
 */
export class RemotePointerConsumer implements PointerConsumer {
  readonly group: string;
  readonly topic: string;
  private memberId = '';
  private generation = -1;
  private partitions: number[] = [];
  private readonly listeners: ((p: readonly number[]) => void)[] = [];
  private readonly revokeListeners: RevokeListener[] = [];
  private revokingNow: readonly number[] = [];
  /** Partitions of the current revoke phase handed to the listeners already. */
  private readonly releasing = new Set<number>();
  private readonly pendingSeeks = new Map<number, number>();
  /** Next offset per partition as this member last saw it (records returned, seeks). */
  private readonly nextOffsets = new Map<number, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastRequestAt = 0;
  private closed = false;
  private rejoining: Promise<void> | undefined;
  private readonly retry: ResolvedRetry;
  private readonly heartbeatIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly sessionTimeoutMs: number;
  private readonly onJoin: RemoteOptions['onJoin'];

  constructor(
    private readonly pool: BrokerPool,
    private readonly sub: SubscribeOptions,
    options: RemoteOptions = {},
  ) {
    this.onJoin = options.onJoin;
    this.group = sub.group;
    this.topic = sub.topic;
    this.retry = options.retry ?? resolveRetry();
    this.sessionTimeoutMs = sub.sessionTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs =
      options.heartbeatIntervalMs ?? Math.max(10, Math.min(3_000, Math.floor(this.sessionTimeoutMs / 3)));
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** The member id the broker assigned at the last join. */
  get currentMemberId(): string {
    return this.memberId;
  }

  /** JoinGroup; retried while the broker is unreachable. */
  async join(): Promise<void> {
    const started = Date.now();
    const r = await withRetry(
      () =>
        this.pool.request(
          ApiKey.JoinGroup,
          {
            group: this.group,
            topic: this.topic,
            sessionTimeoutMs: this.sessionTimeoutMs,
            fromBeginning: this.sub.fromBeginning ?? true,
            clientId: this.sub.clientId ?? '',
          },
          { timeoutMs: this.sessionTimeoutMs + this.requestTimeoutMs },
        ), // may wait out others' revoke phase
      this.retry,
    );
    this.memberId = r.memberId;
    this.lastRequestAt = Date.now();
    this.pendingSeeks.clear(); // a new member starts at the committed positions
    this.nextOffsets.clear();
    this.releasing.clear();
    this.update(r, true);
    this.startHeartbeats();
    this.onJoin?.({
      group: this.group,
      topic: this.topic,
      memberId: this.memberId,
      assignment: this.partitions,
      durationMs: Date.now() - started,
    });
  }

  private startHeartbeats(): void {
    if (this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(() => {
      if (this.closed || this.rejoining) return;
      if (Date.now() - this.lastRequestAt < this.heartbeatIntervalMs) return;
      this.heartbeat().catch(() => {});
    }, this.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  private update(state: GroupState, force = false): void {
    if (!force && state.generation === this.generation) return;
    this.generation = state.generation;
    const before = this.partitions.join(',');
    this.partitions = [...state.assignment].sort((a, b) => a - b);
    for (const p of [...this.pendingSeeks.keys()])
      if (!this.partitions.includes(p)) this.pendingSeeks.delete(p);
    for (const p of [...this.nextOffsets.keys()])
      if (!this.partitions.includes(p)) this.nextOffsets.delete(p);
    this.revokingNow = [...state.revoking].sort((a, b) => a - b);
    for (const p of [...this.releasing]) if (!this.revokingNow.includes(p)) this.releasing.delete(p);
    const fresh = this.revokingNow.filter((p) => !this.releasing.has(p));
    for (const p of fresh) this.releasing.add(p);
    if (fresh.length > 0) void this.release(fresh);
    if (force || before !== this.partitions.join(',')) for (const l of this.listeners) l(this.partitions);
  }

  /** The revoke phase of `partitions`: the listeners commit, then the broker hears they are released. */
  private async release(partitions: number[]): Promise<void> {
    const memberId = this.memberId;
    let timer: NodeJS.Timeout | undefined;
    // The broker moves the partitions on after the session timeout anyway.
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.sessionTimeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled(this.revokeListeners.map(async (l) => l(partitions))), timeout]);
    clearTimeout(timer);
    if (this.closed || this.memberId !== memberId) return;
    try {
      const s = await this.asMember((id) =>
        this.pool.request(ApiKey.Heartbeat, { memberId: id, released: partitions }),
      );
      this.update(s);
    } catch {
      // Not released: the broker's revoke timeout moves the partitions on.
    }
  }

  /** Joins again after the member was lost (connection closed, session expired). */
  private rejoin(): Promise<void> {
    this.rejoining ??= this.join().finally(() => {
      this.rejoining = undefined;
    });
    return this.rejoining;
  }

  /** Runs a member request; a lost member joins again, and the error is rethrown. */
  private async asMember<T>(fn: (memberId: string) => Promise<T>): Promise<T> {
    if (this.closed) throw new ConnectionClosedError('', `consumer of group ${this.group} is closed`);
    if (this.rejoining) await this.rejoining;
    try {
      const v = await fn(this.memberId);
      this.lastRequestAt = Date.now();
      return v;
    } catch (e) {
      if ((isUnknownMember(e) || e instanceof ConnectionClosedError) && !this.closed) {
        await this.rejoin().catch(() => {});
      }
      throw e;
    }
  }

  assignment(): readonly number[] {
    return this.partitions;
  }

  async heartbeat(): Promise<void> {
    const s = await this.asMember((memberId) => this.pool.request(ApiKey.Heartbeat, { memberId }));
    this.update(s);
  }

  async poll(options: { maxRecords?: number; timeoutMs?: number } = {}): Promise<PointerRecord[]> {
    const maxWaitMs = Math.min(MAX_FETCH_WAIT_MS, Math.max(0, options.timeoutMs ?? 1000));
    try {
      await this.applySeeks();
      const r = await this.asMember((memberId) =>
        this.pool.request(
          ApiKey.FetchPointers,
          { memberId, maxRecords: options.maxRecords ?? 500, maxWaitMs },
          { timeoutMs: maxWaitMs + this.requestTimeoutMs },
        ),
      );
      this.update(r);
      const owned = new Set(this.partitions);
      const records = r.records.filter((rec) => owned.has(rec.partition));
      for (const rec of records) this.nextOffsets.set(rec.partition, rec.offset + 1);
      return records;
    } catch (e) {
      // A lost member joined again (positions restart at the committed ones): nothing this time.
      if (isRebalance(e) || (e instanceof ConnectionClosedError && !this.closed)) return [];
      // The broker may have answered after all (e.g. a timeout) and moved the member's positions
      // past records this member never got: go back to where this member knows it was.
      for (const [p, offset] of this.nextOffsets)
        if (!this.pendingSeeks.has(p)) this.pendingSeeks.set(p, offset);
      throw e;
    }
  }

  private async applySeeks(): Promise<void> {
    for (const [partition, offset] of [...this.pendingSeeks]) {
      try {
        await this.asMember((memberId) => this.pool.request(ApiKey.Seek, { memberId, partition, offset }));
      } catch (e) {
        if (!isRebalance(e)) throw e;
      }
      if (this.pendingSeeks.get(partition) === offset) this.pendingSeeks.delete(partition);
    }
  }

  async commit(positions: readonly CommitPosition[]): Promise<void> {
    if (positions.length === 0) return;
    try {
      await this.asMember((memberId) =>
        this.pool.request(ApiKey.CommitOffsets, {
          memberId,
          positions: positions.map((p) => ({
            partition: p.partition,
            offset: p.offset,
            messageIndex: p.messageIndex ?? 0,
          })),
        }),
      );
    } catch (e) {
      if (isRebalance(e)) {
        if (!isUnknownMember(e)) await this.heartbeat().catch(() => {});
        throw new GroupRebalanceError(
          `group ${this.group} rebalanced: partitions ${positions.map((p) => p.partition).join(', ')} of ${this.topic} may no longer be assigned to this member`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  async committed(partitions: readonly number[]): Promise<(CommitPosition | undefined)[]> {
    if (partitions.length === 0) return [];
    const r = await withRetry(
      () =>
        this.asMember((memberId) =>
          this.pool.request(ApiKey.FetchCommitted, { memberId, partitions: [...partitions] }),
        ),
      this.retry,
      { retryable: (e) => isRetryableFailure(e) || isUnknownMember(e) },
    );
    return r.positions.map((p) =>
      p.committed
        ? { partition: p.partition, offset: p.committed.offset, messageIndex: p.committed.messageIndex }
        : undefined,
    );
  }

  seek(partition: number, offset: number): void {
    this.pendingSeeks.set(partition, offset);
    this.nextOffsets.set(partition, offset);
  }

  onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.listeners.push(listener);
  }

  onRevoke(listener: RevokeListener): void {
    this.revokeListeners.push(listener);
  }

  revoking(): readonly number[] {
    return this.revokingNow;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    try {
      await this.pool.request(ApiKey.LeaveGroup, { memberId: this.memberId }, { timeoutMs: 5_000 });
    } catch {
      // the session expires on its own
    }
  }
}

export interface BrokerSourcesOptions extends RemoteOptions {
  brokers: string[];
  clientId: string;
  /** Connecting gives up after this long (retrying unreachable brokers until then). Default 5,000 ms. */
  connectTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  observer?: ConnectionObserver | undefined;
  tls?: ClientTlsOptions | undefined;
  sasl?: SaslCredentials | undefined;
  /** Told before each retry of connecting. */
  onConnectRetry?: (error: unknown, retry: number, delayMs: number) => void;
}

/**
 * Opens a connection (within `connectTimeoutMs`, retrying unreachable brokers) and the
 * broker-served pointer source and read proxy.
 */
export async function openBrokerSources(options: BrokerSourcesOptions): Promise<{
  pointers: RemotePointerSource;
  objects: ProxyObjectSource;
  metadata: MetadataResponse;
  pool: BrokerPool;
  /** The address connected to. */
  broker: string;
  close: () => Promise<void>;
}> {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const pool = new BrokerPool(options.brokers, {
    clientId: options.clientId,
    connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    observer: options.observer,
    tls: options.tls,
    sasl: options.sasl,
  });
  try {
    const conn = await pool.connect({
      timeoutMs: connectTimeoutMs,
      retry: options.retry ?? resolveRetry(),
      ...(options.onConnectRetry && { onRetry: options.onConnectRetry }),
    });
    const metadata = await pool.request(ApiKey.Metadata, { topics: [] });
    return {
      pointers: new RemotePointerSource(pool, options),
      objects: new ProxyObjectSource(pool, metadata.maxReadBytes),
      metadata,
      pool,
      broker: conn.address,
      close: () => pool.close(),
    };
  } catch (e) {
    await pool.close();
    throw e;
  }
}
