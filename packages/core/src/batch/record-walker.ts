import { isUtf8 } from 'node:buffer';
import { CorruptDataError } from '../errors.js';
import { HEADER_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from '../message.js';

/** What a chunk's metadata says about its records, as the walk checks them. */
export interface RecordWalkContext {
  readonly messageCount: number;
  readonly uncompressedLength: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
}

// What the walk expects next. The first six are fixed-size integers, read whole even when they
// straddle two pieces; NAME is a header name (checked as UTF-8); SKIP passes over key and value
// bytes without looking at them.
const TIMESTAMP = 0;
const KEY_LENGTH = 1;
const VALUE_LENGTH = 2;
const HEADER_COUNT = 3;
const NAME_LENGTH = 4;
const HEADER_VALUE_LENGTH = 5;
const NAME = 6;
const SKIP = 7;
const DONE = 8;
// Where a SKIP ends, besides VALUE_LENGTH and HEADER_COUNT: after a header value.
const HEADER_END = 9;
type Field = typeof TIMESTAMP | typeof KEY_LENGTH | typeof VALUE_LENGTH | typeof HEADER_COUNT;
type State =
  | Field
  | typeof NAME_LENGTH
  | typeof HEADER_VALUE_LENGTH
  | typeof NAME
  | typeof SKIP
  | typeof DONE;
type AfterSkip = typeof VALUE_LENGTH | typeof HEADER_COUNT | typeof HEADER_END;

const FIELD_BYTES = [8, 4, 4, 2, 2, 4] as const;

// Big-endian reads by hand: several times faster than Buffer's read methods in this loop.
const i32 = (b: Buffer, p: number): number =>
  (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
const u32 = (b: Buffer, p: number): number => i32(b, p) >>> 0;
const u16 = (b: Buffer, p: number): number => (b[p]! << 8) | b[p + 1]!;

/**
 * Checks a chunk's records as they arrive in pieces (a decompressor's output), holding none of
 * them: the same structure `RecordReader` checks (lengths within the records, no negative
 * lengths, header names in UTF-8, timestamps within the chunk's range, exactly `messageCount`
 * records filling exactly `uncompressedLength` bytes), without building messages. Length checks
 * are made against the declared `uncompressedLength`, so a lie is caught at the first record
 * that does not fit, and `push` refuses bytes past it. Every failure is a `CorruptDataError`.
 */
export class RecordWalker {
  #received = 0;
  #message = 0;
  #state: State = TIMESTAMP;
  #afterSkip: AfterSkip = VALUE_LENGTH;
  #skip = 0;
  #headersLeft = 0;
  /** Bytes of the current fixed-size field gathered in `#scratch` when it straddles pieces. */
  #fill = 0;
  readonly #scratch = Buffer.alloc(8);
  /** A header name that straddles pieces, gathered for the UTF-8 check. */
  #name: Buffer | undefined;
  #nameLength = 0;
  #nameFill = 0;

  constructor(
    private readonly ctx: RecordWalkContext,
    private readonly where = 'chunk',
  ) {
    if (ctx.messageCount * RECORD_OVERHEAD_BYTES > ctx.uncompressedLength) {
      this.#fail(`${ctx.messageCount} messages cannot fit in ${ctx.uncompressedLength} bytes`);
    }
    this.#startRecord(0);
  }

  /** The records' length the metadata declares. */
  get declared(): number {
    return this.ctx.uncompressedLength;
  }

  /** Bytes pushed so far. */
  get received(): number {
    return this.#received;
  }

  push(piece: Buffer): void {
    const declared = this.ctx.uncompressedLength;
    const base = this.#received;
    const n = piece.length;
    if (n > declared - base) {
      this.#fail(`the records are longer than the ${declared} bytes the metadata declares`);
    }
    let p = 0;
    while (p < n) {
      const state = this.#state;
      if (state === TIMESTAMP && this.#fill === 0) {
        p = this.#wholeRecords(piece, p, base);
        // Done, or at a record that runs past this piece: read that one field by field.
        if (this.#state !== TIMESTAMP || p === n) continue;
      }
      if (state === SKIP) {
        const k = Math.min(this.#skip, n - p);
        p += k;
        this.#skip -= k;
        if (this.#skip === 0) this.#enter(this.#afterSkip, base + p);
      } else if (state === NAME) {
        p = this.#readName(piece, p);
      } else if (state === DONE) {
        this.#fail(`${declared - (base + p)} bytes follow the last message`);
      } else {
        const size = FIELD_BYTES[state];
        if (this.#fill === 0 && n - p >= size) {
          p += size;
          this.#field(state, piece, p - size, base + p);
        } else {
          const k = Math.min(size - this.#fill, n - p);
          piece.copy(this.#scratch, this.#fill, p, p + k);
          this.#fill += k;
          p += k;
          if (this.#fill === size) {
            this.#fill = 0;
            this.#field(state, this.#scratch, 0, base + p);
          }
        }
      }
    }
    this.#received = base + n;
  }

  /**
   * The fast path of `push`: reads the records that lie wholly in `piece` from `p` (a record
   * start) with the same checks, in the same order, as the field-by-field path, and returns
   * where it stopped: after the last record, or at the start of one that runs past the piece.
   */
  #wholeRecords(piece: Buffer, p: number, base: number): number {
    const { minTimestamp: min, maxTimestamp: max } = this.ctx;
    const end = piece.length;
    while (this.#state === TIMESTAMP) {
      const start = p;
      const i = this.#message;
      if (end - p < RECORD_OVERHEAD_BYTES) return start;
      const ts = i32(piece, p) * 0x100000000 + u32(piece, p + 4);
      if (ts < min || ts > max) {
        this.#fail(`message ${i}: timestamp ${ts} is outside the chunk's range [${min}, ${max}]`);
      }
      const keyLength = i32(piece, p + 8);
      p += 12;
      if (keyLength !== -1) {
        if (keyLength < 0) this.#fail(`message ${i}: key length ${keyLength} is negative`);
        this.#need(base + p, keyLength + 6, 'key');
        if (end - p < keyLength + 6) return start;
        p += keyLength;
      }
      const valueLength = i32(piece, p);
      p += 4;
      if (valueLength < 0) this.#fail(`message ${i}: value length ${valueLength} is negative`);
      this.#need(base + p, valueLength + 2, 'value');
      if (end - p < valueLength + 2) return start;
      p += valueLength;
      let headers = u16(piece, p);
      p += 2;
      for (; headers > 0; headers--) {
        this.#need(base + p, HEADER_OVERHEAD_BYTES, 'header');
        if (end - p < HEADER_OVERHEAD_BYTES) return start;
        const nameLength = u16(piece, p);
        p += 2;
        this.#need(base + p, nameLength + 4, 'header name');
        if (end - p < nameLength + 4) return start;
        this.#checkName(piece, p, p + nameLength);
        p += nameLength;
        const hvLength = i32(piece, p);
        p += 4;
        if (hvLength < 0) this.#fail(`message ${i}: header value length ${hvLength} is negative`);
        this.#need(base + p, hvLength, 'header value');
        if (end - p < hvLength) return start;
        p += hvLength;
      }
      this.#message = i + 1;
      this.#startRecord(base + p);
    }
    return p;
  }

  /** Call after the last piece: the records must be complete. */
  end(): void {
    if (this.#received !== this.ctx.uncompressedLength) {
      this.#fail(
        `the records are ${this.#received} bytes; the metadata declares ${this.ctx.uncompressedLength}`,
      );
    }
    if (this.#state !== DONE) this.#fail(`the records end inside message ${this.#message}`);
  }

  /** Handles a complete fixed-size field read from `buf` at `at`; `pos` is the position after it. */
  #field(
    state: Field | typeof NAME_LENGTH | typeof HEADER_VALUE_LENGTH,
    buf: Buffer,
    at: number,
    pos: number,
  ) {
    const i = this.#message;
    switch (state) {
      case TIMESTAMP: {
        const ts = i32(buf, at) * 0x100000000 + u32(buf, at + 4);
        const { minTimestamp: min, maxTimestamp: max } = this.ctx;
        if (ts < min || ts > max) {
          this.#fail(`message ${i}: timestamp ${ts} is outside the chunk's range [${min}, ${max}]`);
        }
        this.#state = KEY_LENGTH;
        return;
      }
      case KEY_LENGTH: {
        const len = i32(buf, at);
        if (len === -1) {
          this.#state = VALUE_LENGTH;
          return;
        }
        if (len < 0) this.#fail(`message ${i}: key length ${len} is negative`);
        // the value length and header count (6 bytes) must still follow the key
        this.#need(pos, len + 6, 'key');
        this.#skipThen(len, VALUE_LENGTH, pos);
        return;
      }
      case VALUE_LENGTH: {
        const len = i32(buf, at);
        if (len < 0) this.#fail(`message ${i}: value length ${len} is negative`);
        this.#need(pos, len + 2, 'value');
        this.#skipThen(len, HEADER_COUNT, pos);
        return;
      }
      case HEADER_COUNT:
        this.#headersLeft = u16(buf, at);
        this.#nextHeader(pos);
        return;
      case NAME_LENGTH: {
        const len = u16(buf, at);
        this.#need(pos, len + 4, 'header name');
        this.#nameLength = len;
        this.#state = len === 0 ? HEADER_VALUE_LENGTH : NAME;
        return;
      }
      case HEADER_VALUE_LENGTH: {
        const len = i32(buf, at);
        if (len < 0) this.#fail(`message ${i}: header value length ${len} is negative`);
        this.#need(pos, len, 'header value');
        this.#skipThen(len, HEADER_END, pos);
        return;
      }
    }
  }

  #readName(piece: Buffer, p: number): number {
    const len = this.#nameLength;
    if (this.#nameFill === 0 && piece.length - p >= len) {
      this.#checkName(piece, p, p + len);
      this.#state = HEADER_VALUE_LENGTH;
      return p + len;
    }
    this.#name ??= Buffer.allocUnsafe(len);
    const k = Math.min(len - this.#nameFill, piece.length - p);
    piece.copy(this.#name, this.#nameFill, p, p + k);
    this.#nameFill += k;
    if (this.#nameFill === len) {
      this.#checkName(this.#name, 0, len);
      this.#name = undefined;
      this.#nameFill = 0;
      this.#state = HEADER_VALUE_LENGTH;
    }
    return p + k;
  }

  #checkName(buf: Buffer, start: number, end: number): void {
    for (let k = start; k < end; k++) {
      if (buf[k]! >= 0x80) {
        if (isUtf8(buf.subarray(start, end))) return;
        this.#fail(`message ${this.#message}: header name is not valid UTF-8`);
      }
    }
  }

  #skipThen(n: number, next: AfterSkip, pos: number): void {
    if (n === 0) {
      this.#enter(next, pos);
      return;
    }
    this.#skip = n;
    this.#afterSkip = next;
    this.#state = SKIP;
  }

  /** Moves to `next` at position `pos`. */
  #enter(next: AfterSkip, pos: number): void {
    if (next !== HEADER_END) {
      this.#state = next;
      return;
    }
    this.#headersLeft--;
    this.#nextHeader(pos);
  }

  /** At `pos`, the next header of the message, or the next message. */
  #nextHeader(pos: number): void {
    if (this.#headersLeft > 0) {
      this.#need(pos, HEADER_OVERHEAD_BYTES, 'header');
      this.#state = NAME_LENGTH;
      return;
    }
    this.#message++;
    this.#startRecord(pos);
  }

  #startRecord(pos: number): void {
    if (this.#message === this.ctx.messageCount) {
      this.#state = DONE;
      return;
    }
    this.#need(pos, RECORD_OVERHEAD_BYTES, 'record');
    this.#state = TIMESTAMP;
  }

  /** `n` more bytes from `pos` must be within the declared length. */
  #need(pos: number, n: number, what: string): void {
    if (n > this.ctx.uncompressedLength - pos) {
      this.#fail(`message ${this.#message}: ${what} of ${n} bytes runs past the end of the records`);
    }
  }

  #fail(why: string): never {
    throw new CorruptDataError(`${this.where}: ${why}`);
  }
}
