import { KafkaProtocolError } from './errors.js';

/** Bytes and records of at least this size are sent as their own segment instead of copied. */
export const SEGMENT_THRESHOLD = 4096;

/** A records field to encode: one Buffer, or several sent back to back (e.g. batches of several objects). */
export type RecordsData = Buffer | readonly Buffer[];

const MAX_CHUNK = 64 * 1024;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function outOfRange(type: string, v: unknown): KafkaProtocolError {
  return new KafkaProtocolError('INVALID', `${String(v)} is not a valid ${type}`);
}

/**
 * Writes Kafka's wire types. Small values go into a scratch buffer that grows by chaining new
 * chunks (nothing already written is copied); a bytes or records value of `SEGMENT_THRESHOLD`
 * bytes or more becomes its own segment, referenced, not copied. `finish()` returns the segments
 * in order, to be written with `writev`/cork. A writer is used for one message (or one frame).
 *
 * Tagged fields need their size before their data: `beginSized()`/`endSized()` bracket them and
 * insert the size afterwards; inside such a bracket everything is copied into one contiguous
 * chunk so the size can be inserted in place.
 */
export class KafkaWriter {
  private buf: Buffer;
  /** Numbers are written through a DataView over `buf`: several times faster than Buffer's methods. */
  private view: DataView;
  private pos = 0;
  /** Start of the part of `buf` not yet moved to `segments`. */
  private start = 0;
  private readonly segments: Buffer[] = [];
  private flushedBytes = 0;
  private sizedDepth = 0;
  private chunkSize: number;
  private frameBuf: Buffer | undefined;
  private frameAt = 0;
  private frameStart = 0;

  constructor(initialCapacity = 1024) {
    this.chunkSize = Math.max(64, initialCapacity);
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.flushedBytes + (this.pos - this.start);
  }

  private flush(): void {
    if (this.pos > this.start) {
      this.segments.push(this.buf.subarray(this.start, this.pos));
      this.flushedBytes += this.pos - this.start;
    }
    this.start = this.pos;
  }

  /** Makes room for `n` more bytes at `pos`. */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.chunkSize = Math.min(MAX_CHUNK, this.chunkSize * 2);
    const next = Buffer.allocUnsafe(
      Math.max(this.chunkSize, n + (this.sizedDepth > 0 ? this.pos - this.start : 0)),
    );
    if (this.sizedDepth > 0) {
      // An open size bracket needs its bytes contiguous: move the unflushed part along.
      this.buf.copy(next, 0, this.start, this.pos);
      if (this.frameBuf === this.buf) {
        this.frameBuf = next;
        this.frameAt -= this.start;
      }
      this.pos -= this.start;
    } else {
      this.flush();
      this.pos = 0;
    }
    this.start = 0;
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  int8(v: number): void {
    if ((v << 24) >> 24 !== v) throw outOfRange('int8', v);
    this.ensure(1);
    this.view.setInt8(this.pos, v);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    if ((v << 16) >> 16 !== v) throw outOfRange('int16', v);
    this.ensure(2);
    this.view.setInt16(this.pos, v);
    this.pos += 2;
  }

  uint16(v: number): void {
    if ((v & 0xffff) !== v) throw outOfRange('uint16', v);
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  int32(v: number): void {
    if ((v | 0) !== v) throw outOfRange('int32', v);
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
  }

  uint32(v: number): void {
    if (v >>> 0 !== v) throw outOfRange('uint32', v);
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  int64(v: bigint): void {
    if (typeof v !== 'bigint' || v > INT64_MAX || v < INT64_MIN) throw outOfRange('int64', v);
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }

  float64(v: number): void {
    if (typeof v !== 'number') throw outOfRange('float64', v);
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  uuid(v: Buffer): void {
    if (v.length !== 16) throw new KafkaProtocolError('INVALID', `uuid must be 16 bytes, got ${v.length}`);
    this.ensure(16);
    this.pos += v.copy(this.buf, this.pos);
  }

  /** An unsigned varint of up to 32 bits. */
  uvarint(v: number): void {
    if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) {
      throw new KafkaProtocolError('INVALID', `unsigned varint out of range: ${v}`);
    }
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A zigzag-encoded signed varint of up to 32 bits. */
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Raw bytes, no length prefix (segmented when large, like `bytes`). */
  raw(v: Buffer): void {
    if (v.length >= SEGMENT_THRESHOLD && this.sizedDepth === 0) {
      this.flush();
      this.segments.push(v);
      this.flushedBytes += v.length;
      return;
    }
    this.ensure(v.length);
    this.pos += v.copy(this.buf, this.pos);
  }

  private stringLength(flexible: boolean, n: number): void {
    if (flexible) this.uvarint(n + 1);
    else this.int16(n);
  }

  string(flexible: boolean, v: string): void {
    const n = Buffer.byteLength(v, 'utf8');
    // Kafka caps every string at 32767 bytes, compact ones too.
    if (n > 0x7fff) throw new KafkaProtocolError('INVALID', `string of ${n} bytes is longer than 32767`);
    this.stringLength(flexible, n);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, n, 'utf8');
  }

  nullableString(flexible: boolean, v: string | null): void {
    if (v === null) this.stringLength(flexible, -1);
    else this.string(flexible, v);
  }

  private bytesLength(flexible: boolean, n: number): void {
    if (flexible) this.uvarint(n + 1);
    else this.int32(n);
  }

  bytes(flexible: boolean, v: Buffer): void {
    this.bytesLength(flexible, v.length);
    this.raw(v);
  }

  nullableBytes(flexible: boolean, v: Buffer | null): void {
    if (v === null) this.bytesLength(flexible, -1);
    else this.bytes(flexible, v);
  }

  /** A records field: one Buffer or several written back to back under one length. */
  records(flexible: boolean, v: RecordsData | null): void {
    if (v === null || Buffer.isBuffer(v)) {
      this.nullableBytes(flexible, v as Buffer | null);
      return;
    }
    const parts = v as readonly Buffer[];
    let n = 0;
    for (const part of parts) n += part.length;
    this.bytesLength(flexible, n);
    for (const part of parts) this.raw(part);
  }

  arrayLength(flexible: boolean, n: number): void {
    if (flexible) this.uvarint(n + 1);
    else this.int32(n);
  }

  nullArray(flexible: boolean): void {
    this.arrayLength(flexible, -1);
  }

  /** Opens a size bracket (for a tagged field); pass the result to `endSized`. */
  beginSized(): number {
    this.sizedDepth++;
    return this.pos - this.start;
  }

  /** Closes a size bracket: inserts the unsigned-varint size of what was written since `mark`. */
  endSized(mark: number): void {
    const size = this.pos - (this.start + mark);
    let prefix = 1;
    while (size >= 128 ** prefix) prefix++;
    this.ensure(prefix); // still inside the bracket, so this keeps the bytes contiguous
    this.sizedDepth--;
    const at = this.start + mark;
    this.buf.copy(this.buf, at + prefix, at, this.pos);
    const end = this.pos + prefix;
    this.pos = at;
    this.uvarint(size);
    this.pos = end;
  }

  /** Starts a size-prefixed frame: reserves the int32 size that `endFrame` fills in. */
  startFrame(): void {
    if (this.frameBuf) throw new KafkaProtocolError('INVALID', 'a frame is already open');
    this.ensure(4);
    this.frameBuf = this.buf;
    this.frameAt = this.pos;
    this.pos += 4;
    this.frameStart = this.length;
  }

  /** Fills in the size of the frame opened by `startFrame` (bytes after the size field). */
  endFrame(): void {
    if (!this.frameBuf) throw new KafkaProtocolError('INVALID', 'no frame is open');
    this.frameBuf.writeInt32BE(this.length - this.frameStart, this.frameAt);
    this.frameBuf = undefined;
  }

  /** The written bytes as segments, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    if (this.sizedDepth !== 0)
      throw new KafkaProtocolError('INVALID', 'finish() inside an open size bracket');
    this.flush();
    return this.segments;
  }

  /** The written bytes as one Buffer (copies unless there is a single segment; for tests and small messages). */
  toBuffer(): Buffer {
    const segments = this.finish();
    return segments.length === 1 ? segments[0]! : Buffer.concat(segments);
  }
}
