import {
  ErrorCode,
  errorMessage,
  hasErrorCode,
  type ObjectStorage,
  READ_TO_END,
  type ReadObjectRequest,
  type ReadObjectResponse,
  validateKey,
} from '@barge/core';
import type { Logger } from 'pino';
import { RequestError, storageErrorCode } from './errors.js';
import { BATCH_PREFIX } from './keys.js';
import type { BrokerMetrics } from './metrics.js';
import { UnreadableObjects } from './unreadable-objects.js';

/** Bytes of a ReadObject response frame besides `data`: length, header, objectSize, offset, data length. */
export const READ_RESPONSE_OVERHEAD = 4 + 6 + 8 + 8 + 4;

/**
 * The read proxy: serves batch objects (keys under `topics/`) whole or by byte range to
 * consumers without storage credentials. A response carries at most `maxReadBytes`; clients
 * read bigger objects in ranges (`docs/protocol.md` §6.15). Object sizes are cached (objects are
 * immutable), so a range read is one storage call. With `metrics`, each read observes its bytes
 * and storage time, and missing or truncated objects are counted and logged.
 */
export class ReadProxy {
  readonly #sizes = new Map<string, number>();
  private readonly unreadable: UnreadableObjects | undefined;

  constructor(
    private readonly storage: ObjectStorage,
    readonly maxReadBytes: number,
    private readonly metrics?: BrokerMetrics,
    log?: Logger,
  ) {
    this.unreadable = metrics && log ? new UnreadableObjects(metrics, log) : undefined;
  }

  /**
   * Reads the requested range. `holdResponseBytes` (the connection's response backlog) is
   * awaited before storage is read, so a client that does not read its replies makes the broker
   * wait instead of buffering them.
   */
  async read(
    req: ReadObjectRequest,
    holdResponseBytes: (bytes: number) => Promise<void> = async () => {},
  ): Promise<ReadObjectResponse> {
    const { key, offset } = req;
    try {
      validateKey(key);
    } catch (e) {
      throw new RequestError(ErrorCode.ACCESS_DENIED, `key is not readable: ${errorMessage(e)}`);
    }
    if (!key.startsWith(BATCH_PREFIX)) {
      throw new RequestError(
        ErrorCode.ACCESS_DENIED,
        `only batch objects (keys under "${BATCH_PREFIX}") can be read through the broker, not ${JSON.stringify(key)}`,
      );
    }
    try {
      let started = performance.now();
      const objectSize = await this.#size(key);
      if (offset >= objectSize) return { objectSize, offset, data: Buffer.alloc(0) };
      const wanted = req.length === READ_TO_END ? objectSize - offset : req.length;
      const length = Math.min(wanted, this.maxReadBytes, objectSize - offset);
      const waitStarted = performance.now();
      await holdResponseBytes(READ_RESPONSE_OVERHEAD + length);
      started += performance.now() - waitStarted; // time spent on the client, not on storage
      const data =
        offset === 0 && length === objectSize && length <= 1024 * 1024
          ? await this.storage.get(key)
          : await this.storage.getRange(key, offset, length);
      if (data.length < length)
        this.unreadable?.found(key, 'truncated', `gave ${data.length} of ${length} bytes at ${offset}`);
      const served = data.length > length ? data.subarray(0, length) : data;
      this.metrics?.readProxySeconds.observe((performance.now() - started) / 1000);
      this.metrics?.readProxyBytes.observe(served.length);
      return { objectSize, offset, data: served };
    } catch (e) {
      if (hasErrorCode(e, 'NOT_FOUND')) {
        this.#sizes.delete(key);
        this.unreadable?.found(key, 'not_found', 'is missing');
        throw new RequestError(ErrorCode.OBJECT_NOT_FOUND, `no object ${JSON.stringify(key)}`);
      }
      if (hasErrorCode(e, 'INVALID_INPUT'))
        throw new RequestError(ErrorCode.INVALID_REQUEST, errorMessage(e));
      throw new RequestError(storageErrorCode(e), `storage read failed: ${errorMessage(e)}`, { cause: e });
    }
  }

  /**
   * The most data bytes a response to `req` can carry, known before anything is read (what the
   * read quota charges up front): the length asked for, capped by `maxReadBytes` and, when the
   * object's size is cached, by the bytes left after `offset`.
   */
  mostBytes(req: ReadObjectRequest): number {
    const size = this.#sizes.get(req.key);
    const left = size === undefined ? Number.POSITIVE_INFINITY : Math.max(0, size - req.offset);
    const wanted = req.length === READ_TO_END ? Number.POSITIVE_INFINITY : req.length;
    return Math.min(wanted, left, this.maxReadBytes);
  }

  async #size(key: string): Promise<number> {
    const cached = this.#sizes.get(key);
    if (cached !== undefined) return cached;
    const { size } = await this.storage.head(key);
    if (this.#sizes.size >= 10_000) this.#sizes.delete(this.#sizes.keys().next().value!);
    this.#sizes.set(key, size);
    return size;
  }
}
