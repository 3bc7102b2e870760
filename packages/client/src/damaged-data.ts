import { BargeError, CorruptDataError, hasErrorCode } from '@barge/core';

/**
 * What a consumer does with data it cannot read: a damaged chunk, a damaged batch (its header,
 * or its length), or a batch object that is missing from storage. `fail` (the default) stops
 * the consumer there with a `DamagedDataError`; `skip` passes over it, logs it, counts it and
 * emits `consumer.skipped`, and delivers everything else (the other chunks of the batch too).
 */
export type DamagedDataPolicy = 'fail' | 'skip';

/** Where the data is: the batch's pointer and its object. */
interface DamagePlace {
  readonly topic: string;
  readonly partition: number;
  /** Pointer offset of the batch. */
  readonly offset: number;
  /** Storage key of the batch object. */
  readonly key: string;
  /** Message indexes `[fromMessageIndex, toMessageIndex)` of the batch that are not delivered. */
  readonly fromMessageIndex: number;
  readonly toMessageIndex: number;
  /** What the reader found wrong. */
  readonly error: string;
}

/** Data a consumer could not read: one chunk of a batch, or a whole batch. */
export type DamagedData = DamagePlace &
  (
    | { readonly reason: 'corrupt-chunk'; readonly chunk: number }
    | { readonly reason: 'corrupt-batch' | 'missing-object'; readonly chunk?: undefined }
  );

/** Skips so far, by what was skipped. */
export interface DamagedDataCounts {
  /** Whole batches: a damaged header or object length, or a missing object. */
  readonly batches: number;
  /** Single chunks of batches whose other chunks were delivered. */
  readonly chunks: number;
  /** Messages in the skipped batches and chunks (as their headers or pointers count them). */
  readonly messages: number;
}

/** Why a whole batch could not be read, or undefined when `e` is not about the data (e.g. a network failure). */
export function unreadableBatch(e: unknown): 'corrupt-batch' | 'missing-object' | undefined {
  if (e instanceof CorruptDataError) return 'corrupt-batch';
  // OBJECT_NOT_FOUND from the read proxy and NotFoundError from storage both have this code.
  if (hasErrorCode(e, 'NOT_FOUND')) return 'missing-object';
  return undefined;
}

/** e.g. `topic t partition 2 offset 17: chunk 1 (messages 5..9) of object topics/t/1/… is damaged: <error>`. */
export function describeDamage(d: DamagedData): string {
  const messages =
    d.toMessageIndex > d.fromMessageIndex
      ? `messages ${d.fromMessageIndex}..${d.toMessageIndex - 1}`
      : 'no messages';
  const what =
    d.reason === 'corrupt-chunk'
      ? `chunk ${d.chunk} (${messages}) of object ${d.key} is damaged`
      : d.reason === 'corrupt-batch'
        ? `batch object ${d.key} (${messages}) is damaged`
        : `batch object ${d.key} (${messages}) is missing`;
  return `topic ${d.topic} partition ${d.partition} offset ${d.offset}: ${what}: ${d.error}`;
}

/**
 * Under `onDamagedData: 'fail'`: the consumer stopped at data it cannot read. `damage` says
 * where; nothing of that batch was delivered. Its `code` is `CORRUPT` (a `CorruptDataError` to
 * `instanceof`) or, for a missing object, `NOT_FOUND` (a `NotFoundError`).
 */
export class DamagedDataError extends BargeError {
  readonly code: 'CORRUPT' | 'NOT_FOUND';
  readonly retryable = false;

  constructor(
    readonly damage: DamagedData,
    options?: ErrorOptions,
  ) {
    super(
      `${describeDamage(damage)}. The consumer stops here (onDamagedData 'fail'): skip damaged data with onDamagedData 'skip', or commit offset ${damage.offset + 1} of partition ${damage.partition} for the group to move past this batch`,
      options,
    );
    this.code = damage.reason === 'missing-object' ? 'NOT_FOUND' : 'CORRUPT';
  }
}

/** Where a `DamagedDataError` (of any copy of the client) says the consumer stopped; undefined for other errors. */
export function damageOf(e: unknown): DamagedData | undefined {
  if (!(e instanceof BargeError)) return undefined;
  const d = (e as { damage?: unknown }).damage;
  return typeof d === 'object' && d !== null && 'reason' in d ? (d as DamagedData) : undefined;
}

/** Told of every skip (the consumer's reporter: log, count, event). */
export interface DamageSink {
  skipped(d: DamagedData): void;
}

/** Applies the policy: `fail` throws `DamagedDataError`, `skip` tells the sink and returns. */
export class DamagedDataHandler {
  constructor(
    readonly policy: DamagedDataPolicy,
    private readonly sink: DamageSink,
  ) {}

  found(d: DamagedData, cause?: unknown): void {
    if (this.policy === 'fail') throw new DamagedDataError(d, { cause });
    this.sink.skipped(d);
  }
}

/** The policy from the options: `onDamagedData`, or its older name `onCorruptBatch`; default `fail`. */
export function damagedDataPolicy(o: {
  onDamagedData?: DamagedDataPolicy;
  onCorruptBatch?: DamagedDataPolicy;
}): DamagedDataPolicy {
  return o.onDamagedData ?? o.onCorruptBatch ?? 'fail';
}
