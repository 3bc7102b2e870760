import { CorruptDataError, InvalidInputError } from './errors.js';

/**
 * Message records: the uncompressed content of a chunk is `messageCount` records back to back
 * (`docs/format.md`, "Message record"):
 *
 *     i64 timestamp | i32 keyLength (-1 = null) | key | i32 valueLength | value
 *     | u16 headerCount | headerCount × (u16 nameLength | name UTF-8 | i32 valueLength | value)
 *
 * All integers big-endian.
 */

/** Bytes, or a string written as UTF-8. */
export type Bytes = Uint8Array | string;

export interface MessageHeader {
  readonly name: string;
  readonly value: Bytes;
}

/** A message as a producer hands it over. */
export interface Message {
  /** `null` or absent: no key (distinct from an empty key). */
  readonly key?: Bytes | null;
  readonly value: Bytes;
  /** Ordered; names may repeat. */
  readonly headers?: readonly MessageHeader[];
  /** Milliseconds since the epoch; defaults to the time the chunk is encoded. */
  readonly timestamp?: number;
}

export interface DecodedHeader {
  readonly name: string;
  readonly value: Buffer;
}

/**
 * A message read from a batch. `key`, `value` and header values are views into the chunk's
 * (decompressed) bytes, not copies: they keep that buffer alive; copy them to keep them longer.
 */
export interface DecodedMessage {
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: readonly DecodedHeader[];
  readonly timestamp: number;
  /** Producer id and sequence number from the chunk (`baseSequence + position in chunk`). */
  readonly producerId: number;
  readonly sequence: number;
  /** Position of the message in its batch, 0-based (`firstMessageIndex + position in chunk`). */
  readonly index: number;
}

/**
 * Builds what a reader returns for one message: `toDecodedMessage` by default. A consumer that
 * wraps every message in its own object passes its own factory, so that each message is one
 * object, not a `DecodedMessage` and then a copy of it (at 100 B values, a million objects per
 * second that the garbage collector need not trace).
 */
export type MessageFactory<T> = (
  key: Buffer | null,
  value: Buffer,
  headers: readonly DecodedHeader[],
  timestamp: number,
  producerId: number,
  sequence: number,
  index: number,
) => T;

export const toDecodedMessage: MessageFactory<DecodedMessage> = (
  key,
  value,
  headers,
  timestamp,
  producerId,
  sequence,
  index,
) => ({ key, value, headers, timestamp, producerId, sequence, index });

/** Fixed bytes per record: timestamp 8, key length 4, value length 4, header count 2. */
export const RECORD_OVERHEAD_BYTES = 18;
/** Fixed bytes per header: name length 2, value length 4. */
export const HEADER_OVERHEAD_BYTES = 6;
export const MAX_HEADERS_PER_MESSAGE = 0xffff;
export const MAX_HEADER_NAME_BYTES = 0xffff;
const MAX_I32 = 0x7fffffff;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True if `s` has no lone surrogates, i.e. it round-trips through UTF-8 unchanged. */
export function isWellFormedString(s: string): boolean {
  const native = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(s) : !LONE_SURROGATE.test(s);
}

const EMPTY_HEADERS: readonly DecodedHeader[] = Object.freeze([]);

function bytesLength(v: Bytes, what: string, i: number): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof Uint8Array) return v.length;
  throw new InvalidInputError(`message ${i}: ${what} must be a Uint8Array or a string, got ${typeof v}`);
}

export interface EncodedRecords {
  bytes: Buffer;
  minTimestamp: number;
  maxTimestamp: number;
}

/**
 * Size in bytes of the records for `messages`, validating them. Throws `InvalidInputError`
 * naming the message and field when one cannot be encoded.
 */
export function recordsSize(messages: readonly Message[]): number {
  if (!Array.isArray(messages)) throw new InvalidInputError('messages must be an array');
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) throw new InvalidInputError(`message ${i} must be an object`);
    let size = RECORD_OVERHEAD_BYTES + bytesLength(m.value, 'value', i);
    const key = m.key;
    if (key !== null && key !== undefined) size += bytesLength(key, 'key', i);
    const ts = m.timestamp;
    if (ts !== undefined && !Number.isSafeInteger(ts)) {
      throw new InvalidInputError(`message ${i}: timestamp must be an integer number of ms, got ${ts}`);
    }
    const headers = m.headers;
    if (headers !== undefined) {
      if (!Array.isArray(headers)) throw new InvalidInputError(`message ${i}: headers must be an array`);
      if (headers.length > MAX_HEADERS_PER_MESSAGE) {
        throw new InvalidInputError(
          `message ${i} has ${headers.length} headers; at most ${MAX_HEADERS_PER_MESSAGE} are allowed`,
        );
      }
      for (const h of headers as readonly MessageHeader[]) {
        if (typeof h !== 'object' || h === null || typeof h.name !== 'string') {
          throw new InvalidInputError(`message ${i}: each header must be { name: string, value }`);
        }
        if (!isWellFormedString(h.name)) {
          throw new InvalidInputError(
            `message ${i}: header name ${JSON.stringify(h.name)} is not valid Unicode`,
          );
        }
        const nameBytes = Buffer.byteLength(h.name, 'utf8');
        if (nameBytes > MAX_HEADER_NAME_BYTES) {
          throw new InvalidInputError(
            `message ${i}: header name is ${nameBytes} bytes; at most 65535 allowed`,
          );
        }
        size += HEADER_OVERHEAD_BYTES + nameBytes + bytesLength(h.value, `header ${h.name}`, i);
      }
    }
    total += size;
  }
  return total;
}

/** Writes `v` at `pos + 4` and its length as i32 at `pos`; returns the position after it. */
function writeBytes(buf: Buffer, pos: number, v: Bytes): number {
  let n: number;
  if (typeof v === 'string') {
    n = buf.write(v, pos + 4, 'utf8');
  } else {
    buf.set(v, pos + 4);
    n = v.length;
  }
  if (n > MAX_I32) throw new InvalidInputError(`a key or value of ${n} bytes is above the 2^31-1 limit`);
  buf[pos] = n >>> 24;
  buf[pos + 1] = n >>> 16;
  buf[pos + 2] = n >>> 8;
  buf[pos + 3] = n;
  return pos + 4 + n;
}

/**
 * Encodes `messages` as records into one buffer of exactly the right size (computed first, so
 * nothing is copied twice). Messages without a timestamp get `defaultTimestamp`.
 * `size` may pass a `recordsSize(messages)` computed earlier.
 */
export function encodeRecords(
  messages: readonly Message[],
  defaultTimestamp: number,
  size = recordsSize(messages),
): EncodedRecords {
  if (!Number.isSafeInteger(defaultTimestamp)) {
    throw new InvalidInputError(`default timestamp must be an integer number of ms, got ${defaultTimestamp}`);
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  let minTimestamp = Number.POSITIVE_INFINITY;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const ts = m.timestamp ?? defaultTimestamp;
    if (ts < minTimestamp) minTimestamp = ts;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const hi = Math.floor(ts / 0x100000000);
    const lo = ts - hi * 0x100000000;
    buf[pos] = hi >>> 24;
    buf[pos + 1] = hi >>> 16;
    buf[pos + 2] = hi >>> 8;
    buf[pos + 3] = hi;
    buf[pos + 4] = lo >>> 24;
    buf[pos + 5] = lo >>> 16;
    buf[pos + 6] = lo >>> 8;
    buf[pos + 7] = lo;
    pos += 8;
    const key = m.key;
    if (key === null || key === undefined) {
      buf[pos] = 0xff;
      buf[pos + 1] = 0xff;
      buf[pos + 2] = 0xff;
      buf[pos + 3] = 0xff;
      pos += 4;
    } else {
      pos = writeBytes(buf, pos, key);
    }
    pos = writeBytes(buf, pos, m.value);
    const headers = m.headers;
    const hc = headers === undefined ? 0 : headers.length;
    buf[pos] = hc >>> 8;
    buf[pos + 1] = hc;
    pos += 2;
    for (let h = 0; h < hc; h++) {
      const header = headers![h]!;
      const n = buf.write(header.name, pos + 2, 'utf8');
      buf[pos] = n >>> 8;
      buf[pos + 1] = n;
      pos = writeBytes(buf, pos + 2 + n, header.value);
    }
  }
  if (pos !== size) {
    // Only reachable if a message was mutated between sizing and writing.
    throw new InvalidInputError(
      `messages changed while being encoded (${pos} bytes written, ${size} expected)`,
    );
  }
  if (messages.length === 0) {
    minTimestamp = 0;
    maxTimestamp = 0;
  }
  return { bytes: buf, minTimestamp, maxTimestamp };
}

/** What a chunk's index entry says about its records; used to number and check them. */
export interface RecordContext {
  readonly messageCount: number;
  readonly producerId: number;
  readonly baseSequence: number;
  readonly firstMessageIndex: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the records of one chunk one at a time. Every structural problem (a length running past
 * the end, a count that does not match, bytes left over, a timestamp outside the chunk's range,
 * invalid UTF-8 in a header name) is a `CorruptDataError`; nothing is allocated beyond the
 * views and objects for records that are actually present.
 */
export class RecordReader<T = DecodedMessage> {
  private pos = 0;
  private read = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly ctx: RecordContext,
    private readonly where = 'chunk',
    private readonly make: MessageFactory<T> = toDecodedMessage as MessageFactory<unknown> as MessageFactory<T>,
  ) {
    // Each record takes at least RECORD_OVERHEAD_BYTES, so a count the bytes cannot hold is
    // rejected before any record is read.
    if (ctx.messageCount * RECORD_OVERHEAD_BYTES > buf.length) {
      this.fail(`${ctx.messageCount} messages cannot fit in ${buf.length} bytes`);
    }
  }

  get remaining(): number {
    return this.ctx.messageCount - this.read;
  }

  private fail(why: string): never {
    throw new CorruptDataError(`${this.where}: ${why}`);
  }

  private need(pos: number, n: number, what: string): void {
    if (n > this.buf.length - pos) {
      this.fail(`message ${this.read}: ${what} of ${n} bytes runs past the end of the records`);
    }
  }

  /** The next message, or `undefined` after the last one (then the records are checked to end). */
  next(): T | undefined {
    const ctx = this.ctx;
    const b = this.buf;
    const i = this.read;
    if (i >= ctx.messageCount) {
      if (this.pos !== b.length) this.fail(`${b.length - this.pos} bytes follow the last message`);
      return undefined;
    }
    let p = this.pos;
    this.need(p, RECORD_OVERHEAD_BYTES, 'record');
    const hi = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
    const timestamp = hi * 0x100000000 + lo;
    if (timestamp < ctx.minTimestamp || timestamp > ctx.maxTimestamp) {
      this.fail(
        `message ${i}: timestamp ${timestamp} is outside the chunk's range [${ctx.minTimestamp}, ${ctx.maxTimestamp}]`,
      );
    }
    p += 8;
    const keyLen = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    let key: Buffer | null = null;
    if (keyLen !== -1) {
      if (keyLen < 0) this.fail(`message ${i}: key length ${keyLen} is negative`);
      // the value length and header count (6 bytes) must still follow the key
      this.need(p, keyLen + 6, 'key');
      key = b.subarray(p, p + keyLen);
      p += keyLen;
    }
    const valueLen = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (valueLen < 0) this.fail(`message ${i}: value length ${valueLen} is negative`);
    this.need(p, valueLen + 2, 'value');
    const value = b.subarray(p, p + valueLen);
    p += valueLen;
    const headerCount = (b[p]! << 8) | b[p + 1]!;
    p += 2;
    let headers = EMPTY_HEADERS;
    if (headerCount > 0) {
      const hs: DecodedHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        this.need(p, HEADER_OVERHEAD_BYTES, 'header');
        const nameLen = (b[p]! << 8) | b[p + 1]!;
        p += 2;
        this.need(p, nameLen + 4, 'header name');
        const name = this.utf8(p, p + nameLen);
        p += nameLen;
        const hvLen = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
        p += 4;
        if (hvLen < 0) this.fail(`message ${i}: header value length ${hvLen} is negative`);
        this.need(p, hvLen, 'header value');
        hs.push({ name, value: b.subarray(p, p + hvLen) });
        p += hvLen;
      }
      headers = hs;
    }
    this.pos = p;
    this.read = i + 1;
    return this.make(
      key,
      value,
      headers,
      timestamp,
      ctx.producerId,
      ctx.baseSequence + i,
      ctx.firstMessageIndex + i,
    );
  }

  private utf8(start: number, end: number): string {
    const b = this.buf;
    for (let k = start; k < end; k++) {
      if (b[k]! >= 0x80) {
        try {
          return fatalUtf8.decode(b.subarray(start, end));
        } catch {
          this.fail(`message ${this.read}: header name is not valid UTF-8`);
        }
      }
    }
    return b.toString('latin1', start, end);
  }
}

/** Decodes all records of a chunk (see `RecordReader`). */
export function decodeRecords(buf: Buffer, ctx: RecordContext, where?: string): DecodedMessage[] {
  const r = new RecordReader(buf, ctx, where);
  const out: DecodedMessage[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}
