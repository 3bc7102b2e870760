import type { ProducerMessage } from '@barge/client';

/** Bytes of pseudo-random data the values are cut from: big enough that codecs find no short repeats. */
const BLOCK_BYTES = 256 * 1024;
/** Distinct keys when keys are on (spread over the write partitions by hash). */
const DISTINCT_KEYS = 1024;
/** Distinct value views cut from the block. */
const DISTINCT_VALUES = 64;

/** xorshift32: the same bytes on every run, so runs compare. */
function fill(buf: Buffer, seed: number): Buffer {
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

/**
 * The messages a benchmark sends, built once: values are views into one block of pseudo-random
 * bytes (at different offsets, so chunks are not one value repeated) and keys come from a fixed
 * pool. `group(n)` returns the same message objects every time: no allocation per message.
 */
export class Payload {
  readonly #block: Buffer;
  readonly #values: Buffer[];
  readonly #keys: Buffer[];
  readonly #groups = new Map<number, ProducerMessage[]>();

  constructor(
    readonly valueBytes: number,
    readonly keyBytes: number,
  ) {
    this.#block = fill(Buffer.allocUnsafe(BLOCK_BYTES + valueBytes + 4), 0x9e3779b9);
    const stride = Math.floor(BLOCK_BYTES / DISTINCT_VALUES);
    this.#values = Array.from({ length: DISTINCT_VALUES }, (_, i) =>
      this.#block.subarray(i * stride + (i % 7), i * stride + (i % 7) + valueBytes),
    );
    this.#keys =
      keyBytes === 0
        ? []
        : Array.from({ length: DISTINCT_KEYS }, (_, i) =>
            fill(Buffer.allocUnsafe(keyBytes + 4), i + 1).subarray(0, keyBytes),
          );
  }

  /** Key + value bytes of one message. */
  get messageBytes(): number {
    return this.valueBytes + this.keyBytes;
  }

  /** `n` messages (the same array for the same `n`; callers must not change it). */
  group(n: number): ProducerMessage[] {
    let g = this.#groups.get(n);
    if (!g) {
      g = Array.from({ length: n }, (_, i) => this.message(i));
      this.#groups.set(n, g);
    }
    return g;
  }

  /** The `i`th message of the pool (views, not copies). */
  message(i: number): ProducerMessage {
    const value = this.#values[i % DISTINCT_VALUES]!;
    return this.keyBytes === 0 ? { value } : { key: this.#keys[i % DISTINCT_KEYS]!, value };
  }

  /** A copy of the `i`th value, for a message whose bytes are then stamped (e2e). */
  valueCopy(i: number): Buffer {
    return Buffer.from(this.#values[i % DISTINCT_VALUES]!);
  }
}

/** Messages per `send` call when not given: about 64 KiB of messages, 1 to 500. */
export function defaultSendMessages(messageBytes: number): number {
  return Math.max(1, Math.min(500, Math.floor((64 * 1024) / Math.max(1, messageBytes))));
}
