import { InvalidInputError } from '../errors.js';

/**
 * Primitive readers and writers for the client-broker protocol (`docs/protocol.md`). Every
 * integer is big-endian. Readers check bounds before every read and throw `ProtocolError` naming
 * the field; they never read past the end of their buffer and never allocate more than the input
 * can justify (array counts are checked against the bytes left before anything is allocated).
 */

/** Malformed protocol input: a truncated or inconsistent frame or body. */
export class ProtocolError extends InvalidInputError {}

/** A frame's length prefix is above the receiver's limit. `header` holds the bytes after the prefix that were already buffered (up to 8). */
export class FrameTooLargeError extends ProtocolError {
  constructor(
    readonly length: number,
    readonly maxFrameBytes: number,
    readonly header: Buffer,
  ) {
    super(`frame of ${length} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
}

/** Largest integer carried by a u64/i64 field (JavaScript numbers are exact up to 2^53 - 1). */
export const MAX_WIRE_INTEGER = Number.MAX_SAFE_INTEGER;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (n > this.end - this.pos) {
      throw new ProtocolError(
        `truncated field "${field}": needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) throw new ProtocolError(`field "${field}" must be 0 or 1, got ${v}`);
    return v === 1;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Unsigned 64-bit; must be at most 2^53 - 1. */
  u64(field: string): number {
    this.need(8, field);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    if (hi > 0x1fffff) throw new ProtocolError(`field "${field}" is above 2^53 - 1`);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  /** Signed 64-bit; must be within ±(2^53 - 1). */
  i64(field: string): number {
    this.need(8, field);
    const v = this.buf.readBigInt64BE(this.pos);
    if (v > 9007199254740991n || v < -9007199254740991n) {
      throw new ProtocolError(`field "${field}" is outside ±(2^53 - 1)`);
    }
    this.pos += 8;
    return Number(v);
  }

  /** u16 byte length + UTF-8 bytes; invalid UTF-8 is rejected. */
  str16(field: string): string {
    const n = this.u16(`${field}.length`);
    this.need(n, field);
    const s = this.pos;
    this.pos += n;
    if (n === 0) return '';
    try {
      return utf8.decode(this.buf.subarray(s, s + n));
    } catch {
      throw new ProtocolError(`field "${field}" is not valid UTF-8`);
    }
  }

  /** u32 byte length + bytes, returned as a view of the input (no copy). */
  bytes32(field: string, max = Number.MAX_SAFE_INTEGER): Buffer {
    const n = this.u32(`${field}.length`);
    if (n > max) throw new ProtocolError(`field "${field}" is ${n} bytes; at most ${max} are allowed`);
    return this.raw(n, field);
  }

  /** `n` bytes as a view of the input (no copy). */
  raw(n: number, field: string): Buffer {
    this.need(n, field);
    const s = this.pos;
    this.pos += n;
    return this.buf.subarray(s, s + n);
  }

  /**
   * An array count (u32, or u16 when `width` is 2) checked against the bytes left: each element
   * takes at least `minElementBytes`, so a count the input cannot hold is rejected up front.
   */
  count(field: string, minElementBytes: number, width: 2 | 4 = 4): number {
    const n = width === 2 ? this.u16(`${field}.count`) : this.u32(`${field}.count`);
    if (n * minElementBytes > this.end - this.pos) {
      throw new ProtocolError(
        `field "${field}" claims ${n} elements; the ${this.end - this.pos} bytes left cannot hold them`,
      );
    }
    return n;
  }

  /** Throws unless every byte was consumed: each version defines its layout exactly. */
  done(what: string): void {
    if (this.pos !== this.end) {
      throw new ProtocolError(`${what} has ${this.end - this.pos} unexpected trailing bytes`);
    }
  }
}

/**
 * Builds a message as a list of buffers. Small fields go into a growing scratch buffer; large
 * byte fields (chunks, object data) are appended by reference, so encoding a produce request or
 * a read response never copies the payload. `finish()` returns the parts in order.
 */
export class Writer {
  private parts: Buffer[] = [];
  private buf: Buffer;
  private start = 0;
  private pos = 0;
  private total = 0;

  /** Byte fields at least this long are appended by reference instead of copied. */
  static readonly REFERENCE_THRESHOLD = 512;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.total;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flushScratch();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2, 256));
    this.start = 0;
    this.pos = 0;
  }

  private flushScratch(): void {
    if (this.pos > this.start) this.parts.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  private check(v: number, min: number, max: number, field: string): void {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ProtocolError(`field "${field}" must be an integer in [${min}, ${max}], got ${v}`);
    }
  }

  u8(v: number, field = 'u8'): this {
    this.check(v, 0, 0xff, field);
    this.ensure(1);
    this.buf[this.pos++] = v;
    this.total += 1;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  u16(v: number, field = 'u16'): this {
    this.check(v, 0, 0xffff, field);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    this.total += 2;
    return this;
  }

  u32(v: number, field = 'u32'): this {
    this.check(v, 0, 0xffffffff, field);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    this.total += 4;
    return this;
  }

  i32(v: number, field = 'i32'): this {
    this.check(v, -0x80000000, 0x7fffffff, field);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    this.total += 4;
    return this;
  }

  u64(v: number, field = 'u64'): this {
    this.check(v, 0, MAX_WIRE_INTEGER, field);
    this.ensure(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
    this.total += 8;
    return this;
  }

  i64(v: number, field = 'i64'): this {
    this.check(v, -MAX_WIRE_INTEGER, MAX_WIRE_INTEGER, field);
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    this.total += 8;
    return this;
  }

  str16(s: string, field = 'string'): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 0xffff) throw new ProtocolError(`field "${field}" is ${n} bytes of UTF-8; at most 65535 fit`);
    this.u16(n);
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
    this.total += n;
    return this;
  }

  bytes32(b: Uint8Array, field = 'bytes'): this {
    this.u32(b.length, `${field}.length`);
    return this.raw(b);
  }

  /** Appends `b` as is: copied when small, by reference when large. */
  raw(b: Uint8Array): this {
    if (b.length >= Writer.REFERENCE_THRESHOLD) {
      this.flushScratch();
      this.parts.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
    } else {
      this.ensure(b.length);
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
    this.total += b.length;
    return this;
  }

  /** The encoded parts, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.flushScratch();
    return this.parts;
  }
}

/** Joins encoder output into one buffer (tests, small messages). */
export function joinParts(parts: readonly Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
