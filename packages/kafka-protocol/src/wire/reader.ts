import { KafkaProtocolError } from './errors.js';

/**
 * Reads Kafka's wire types from a Buffer, advancing `offset`. Bytes, records and uuids are
 * returned as views into the input (`subarray`), never copies: keep the input alive and
 * unchanged while they are in use. Every length and count is checked against the bytes left
 * before anything is allocated; a short or malformed input throws `KafkaProtocolError` naming
 * `field` (the generated decoders pass the field's path).
 *
 * `flexible` selects the compact encodings of flexible versions (unsigned-varint length + 1,
 * 0 meaning null) over the classic ones (int16 length for strings, int32 for bytes and arrays,
 * -1 meaning null).
 */
export class KafkaReader {
  offset: number;
  readonly end: number;
  /** Numbers are read through a DataView: several times faster than Buffer's read methods (int64 above all). */
  private readonly data: DataView;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new RangeError(`KafkaReader: bad bounds ${offset}..${end} of ${buf.length}`);
    }
    this.offset = offset;
    this.end = end;
    this.data = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, field: string): number {
    const at = this.offset;
    if (n > this.end - at) {
      throw new KafkaProtocolError(
        'TRUNCATED',
        `${field}: needs ${n} bytes at offset ${at}, ${this.end - at} left`,
      );
    }
    this.offset = at + n;
    return at;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
  }

  int8(field: string): number {
    return this.data.getInt8(this.need(1, field));
  }

  bool(field: string): boolean {
    return this.buf[this.need(1, field)] !== 0;
  }

  int16(field: string): number {
    return this.data.getInt16(this.need(2, field));
  }

  uint16(field: string): number {
    return this.data.getUint16(this.need(2, field));
  }

  int32(field: string): number {
    return this.data.getInt32(this.need(4, field));
  }

  uint32(field: string): number {
    return this.data.getUint32(this.need(4, field));
  }

  int64(field: string): bigint {
    return this.data.getBigInt64(this.need(8, field));
  }

  float64(field: string): number {
    return this.data.getFloat64(this.need(8, field));
  }

  /** 16 bytes, as a view. */
  uuid(field: string): Buffer {
    const at = this.need(16, field);
    return this.buf.subarray(at, at + 16);
  }

  /** An unsigned varint of up to 32 bits (at most 5 bytes). */
  uvarint(field: string): number {
    const buf = this.buf;
    let value = 0;
    let factor = 1;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) {
        throw new KafkaProtocolError('TRUNCATED', `${field}: varint truncated at offset ${this.offset}`);
      }
      const b = buf[this.offset++]!;
      value += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
      factor *= 128;
    }
    throw new KafkaProtocolError('INVALID', `${field}: unsigned varint longer than 32 bits`);
  }

  /** A zigzag-encoded signed varint of up to 32 bits (record headers and lengths). */
  varint(field: string): number {
    const u = this.uvarint(field);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** A string length; -1 for null. */
  private stringLength(flexible: boolean, field: string): number {
    const n = flexible ? this.uvarint(field) - 1 : this.int16(field);
    if (n < -1) throw new KafkaProtocolError('INVALID', `${field}: negative string length ${n}`);
    return n;
  }

  private utf8(n: number, field: string): string {
    const at = this.need(n, field);
    return this.buf.toString('utf8', at, at + n);
  }

  string(flexible: boolean, field: string): string {
    const n = this.stringLength(flexible, field);
    if (n < 0)
      throw new KafkaProtocolError('INVALID', `${field}: null string where the version forbids null`);
    return this.utf8(n, field);
  }

  nullableString(flexible: boolean, field: string): string | null {
    const n = this.stringLength(flexible, field);
    return n < 0 ? null : this.utf8(n, field);
  }

  /** A bytes length; -1 for null. */
  private bytesLength(flexible: boolean, field: string): number {
    const n = flexible ? this.uvarint(field) - 1 : this.int32(field);
    if (n < -1) throw new KafkaProtocolError('INVALID', `${field}: negative bytes length ${n}`);
    return n;
  }

  private view(n: number, field: string): Buffer {
    const at = this.need(n, field);
    return this.buf.subarray(at, at + n);
  }

  /** Bytes as a view into the input. */
  bytes(flexible: boolean, field: string): Buffer {
    const n = this.bytesLength(flexible, field);
    if (n < 0) throw new KafkaProtocolError('INVALID', `${field}: null bytes where the version forbids null`);
    return this.view(n, field);
  }

  /** Bytes (or records) as a view into the input, or null. */
  nullableBytes(flexible: boolean, field: string): Buffer | null {
    const n = this.bytesLength(flexible, field);
    return n < 0 ? null : this.view(n, field);
  }

  /**
   * An array's element count; -1 for null. Each element takes at least one byte, so a count
   * larger than the bytes left is rejected before the caller allocates anything.
   */
  nullableArrayLength(flexible: boolean, field: string): number {
    const n = flexible ? this.uvarint(field) - 1 : this.int32(field);
    if (n < -1) throw new KafkaProtocolError('INVALID', `${field}: negative array length ${n}`);
    if (n > this.end - this.offset) {
      throw new KafkaProtocolError(
        'TRUNCATED',
        `${field}: ${n} elements but only ${this.end - this.offset} bytes left`,
      );
    }
    return n;
  }

  arrayLength(flexible: boolean, field: string): number {
    const n = this.nullableArrayLength(flexible, field);
    if (n < 0) throw new KafkaProtocolError('INVALID', `${field}: null array where the version forbids null`);
    return n;
  }

  /**
   * Reads a tagged field's size and returns the offset where its data ends (checked against the
   * bytes left). The caller decodes the field and calls `endTagged`, or sets `offset` to skip it.
   */
  taggedEnd(field: string): number {
    const size = this.uvarint(field);
    const at = this.need(size, field);
    this.offset = at;
    return at + size;
  }

  /** Checks that a known tagged field's data used exactly its declared size. */
  endTagged(end: number, field: string): void {
    if (this.offset !== end) {
      throw new KafkaProtocolError('INVALID', `${field}: tagged field size does not match its contents`);
    }
  }

  /** Skips a tagged-field section whose tags are all unknown (headers, structs without tags). */
  skipTaggedFields(field: string): void {
    const count = this.uvarint(field);
    for (let i = 0; i < count; i++) {
      this.uvarint(field);
      this.offset = this.taggedEnd(field);
    }
  }
}
