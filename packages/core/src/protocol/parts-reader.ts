import { ProtocolError } from './wire.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Where a fixed-size field that straddles two parts is gathered (reads are synchronous). */
const scratch = Buffer.alloc(8);

/**
 * Reads protocol fields from a byte string held as several buffers (a frame spread over socket
 * reads, `FrameDecoder.nextParts()`), without joining them: the same fields, checks and error
 * messages as `Reader`, and byte fields come back as views of the parts. A field that straddles
 * two parts is gathered (at most a string's length); large byte fields never are.
 */
export class PartsReader {
  readonly #parts: readonly Buffer[];
  /** The part being read, and the read position within it. */
  #index = 0;
  #at = 0;
  /** Bytes read so far (offsets in error messages). */
  #pos = 0;
  readonly end: number;

  constructor(parts: readonly Buffer[]) {
    this.#parts = parts;
    let n = 0;
    for (const p of parts) n += p.length;
    this.end = n;
    this.#skipEmpty();
  }

  get pos(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.end - this.#pos;
  }

  need(n: number, field: string): void {
    if (n > this.end - this.#pos) {
      throw new ProtocolError(
        `truncated field "${field}": needs ${n} bytes at offset ${this.#pos}, ${this.end - this.#pos} left`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    const v = this.#parts[this.#index]![this.#at]!;
    this.#advance(1);
    return v;
  }

  u16(field: string): number {
    const b = this.#fixed(2, field);
    const v = b.readUInt16BE(this.#fieldAt);
    this.#advance(2);
    return v;
  }

  u32(field: string): number {
    const b = this.#fixed(4, field);
    const v = b.readUInt32BE(this.#fieldAt);
    this.#advance(4);
    return v;
  }

  i32(field: string): number {
    const b = this.#fixed(4, field);
    const v = b.readInt32BE(this.#fieldAt);
    this.#advance(4);
    return v;
  }

  /** Unsigned 64-bit; must be at most 2^53 - 1. */
  u64(field: string): number {
    const b = this.#fixed(8, field);
    const hi = b.readUInt32BE(this.#fieldAt);
    const lo = b.readUInt32BE(this.#fieldAt + 4);
    if (hi > 0x1fffff) throw new ProtocolError(`field "${field}" is above 2^53 - 1`);
    this.#advance(8);
    return hi * 0x1_0000_0000 + lo;
  }

  /** Signed 64-bit; must be within ±(2^53 - 1). Two 32-bit reads: no BigInt per field. */
  i64(field: string): number {
    const b = this.#fixed(8, field);
    const hi = b.readInt32BE(this.#fieldAt);
    const lo = b.readUInt32BE(this.#fieldAt + 4);
    if (hi > 0x1fffff || hi < -0x200000 || (hi === -0x200000 && lo === 0)) {
      throw new ProtocolError(`field "${field}" is outside ±(2^53 - 1)`);
    }
    this.#advance(8);
    return hi * 0x1_0000_0000 + lo;
  }

  /** u16 byte length + UTF-8 bytes; invalid UTF-8 is rejected. */
  str16(field: string): string {
    const n = this.u16(`${field}.length`);
    this.need(n, field);
    if (n === 0) return '';
    const part = this.#parts[this.#index]!;
    let bytes: Buffer;
    if (part.length - this.#at >= n) {
      bytes = part.subarray(this.#at, this.#at + n);
      this.#advance(n);
    } else {
      bytes = Buffer.concat(this.#views(n));
    }
    try {
      return utf8.decode(bytes);
    } catch {
      throw new ProtocolError(`field "${field}" is not valid UTF-8`);
    }
  }

  /** u32 byte length + bytes, returned as views of the parts (no copy). */
  bytes32(field: string, max = Number.MAX_SAFE_INTEGER): Buffer[] {
    const n = this.u32(`${field}.length`);
    if (n > max) throw new ProtocolError(`field "${field}" is ${n} bytes; at most ${max} are allowed`);
    this.need(n, field);
    return this.#views(n);
  }

  /** Every byte left, as views of the parts. */
  rest(): Buffer[] {
    return this.#views(this.end - this.#pos);
  }

  /** An array count (u32) checked against the bytes left, as `Reader.count`. */
  count(field: string, minElementBytes: number): number {
    const n = this.u32(`${field}.count`);
    if (n * minElementBytes > this.end - this.#pos) {
      throw new ProtocolError(
        `field "${field}" claims ${n} elements; the ${this.end - this.#pos} bytes left cannot hold them`,
      );
    }
    return n;
  }

  /** Throws unless every byte was consumed. */
  done(what: string): void {
    if (this.#pos !== this.end) {
      throw new ProtocolError(`${what} has ${this.end - this.#pos} unexpected trailing bytes`);
    }
  }

  /** Offset of the field `#fixed` returned within the buffer it returned. */
  #fieldAt = 0;

  /** The buffer holding the next `n` (at most 8) bytes: the current part, or `scratch` when they straddle parts. */
  #fixed(n: number, field: string): Buffer {
    this.need(n, field);
    const part = this.#parts[this.#index]!;
    if (part.length - this.#at >= n) {
      this.#fieldAt = this.#at;
      return part;
    }
    let filled = 0;
    let i = this.#index;
    let at = this.#at;
    while (filled < n) {
      const p = this.#parts[i]!;
      const k = Math.min(n - filled, p.length - at);
      p.copy(scratch, filled, at, at + k);
      filled += k;
      i++;
      at = 0;
    }
    this.#fieldAt = 0;
    return scratch;
  }

  /** The next `n` bytes (known to be there) as views, consumed. */
  #views(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const part = this.#parts[this.#index]!;
      const k = Math.min(left, part.length - this.#at);
      out.push(part.subarray(this.#at, this.#at + k));
      left -= k;
      this.#advance(k);
    }
    return out;
  }

  #advance(n: number): void {
    this.#pos += n;
    this.#at += n;
    let part = this.#parts[this.#index];
    while (part !== undefined && this.#at >= part.length) {
      this.#at -= part.length;
      part = this.#parts[++this.#index];
    }
  }

  #skipEmpty(): void {
    this.#advance(0);
  }
}
