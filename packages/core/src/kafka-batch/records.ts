import { CorruptDataError } from '../errors.js';
import type { DecodedHeader, DecodedMessage } from '../message.js';
import type { KafkaBatchHeader } from './header.js';
import { type Cursor, readVarint, readVarlong } from './varint.js';

/**
 * v2 records, the (decompressed) content of a record batch, `recordsCount` of them back to back:
 *
 *     length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
 *     | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value
 *     | headerCount varint | headerCount × (nameLength varint | name UTF-8 | valueLength varint | value)
 */

/** Smallest record: length, attributes, timestampDelta, offsetDelta, key and value lengths, header count. */
export const KAFKA_MIN_RECORD_BYTES = 7;

/** How the messages of one batch are numbered for Barge readers. */
export interface KafkaRecordContext {
  /** Barge message index of the batch's first record (`index` of record i is this + i). */
  readonly firstIndex: number;
  /** `producerId` every message gets. */
  readonly producerId: number;
  /** `sequence` of record i is `baseSequence + i`. */
  readonly baseSequence: number;
}

const EMPTY = Buffer.alloc(0);
const NO_HEADERS: readonly DecodedHeader[] = Object.freeze([]);

/**
 * Reads the records of one batch one at a time as Barge `DecodedMessage`s. Keys, values and
 * header values are views of `records`. A null value or header value reads as empty (Barge
 * messages always have one); header names are decoded as UTF-8 the way Kafka's clients do
 * (invalid sequences become U+FFFD). Timestamps are `baseTimestamp + timestampDelta`, or
 * `maxTimestamp` for every record of a LogAppendTime batch. Every structural problem (a length
 * past the end, a record whose fields do not fill its length, a count that does not match,
 * bytes left over) is a `CorruptDataError`.
 */
export class KafkaRecordReader {
  readonly #b: Buffer;
  readonly #c: Cursor;
  #read = 0;

  constructor(
    records: Buffer,
    private readonly header: KafkaBatchHeader,
    private readonly ctx: KafkaRecordContext,
    private readonly where = 'record batch',
  ) {
    this.#b = records;
    this.#c = { pos: 0, end: records.length };
    if (header.recordsCount * KAFKA_MIN_RECORD_BYTES > records.length) {
      this.#fail(`${header.recordsCount} records cannot fit in ${records.length} bytes`);
    }
  }

  /** Records not read yet. */
  get remaining(): number {
    return this.header.recordsCount - this.#read;
  }

  #fail(why: string): never {
    throw new CorruptDataError(`${this.where}: ${why}`);
  }

  /** The next message, or `undefined` after the last one (the records must then end exactly). */
  next(): DecodedMessage | undefined {
    const b = this.#b;
    const c = this.#c;
    const i = this.#read;
    const h = this.header;
    if (i >= h.recordsCount) {
      if (c.pos !== c.end) this.#fail(`${c.end - c.pos} bytes follow the last record`);
      return undefined;
    }
    const what = `record ${i}`;
    const length = readVarint(b, c, what);
    if (length < KAFKA_MIN_RECORD_BYTES - 1 || length > c.end - c.pos) {
      this.#fail(`${what}: length ${length} does not fit the ${c.end - c.pos} bytes left`);
    }
    const end = c.pos + length;
    const r: Cursor = { pos: c.pos + 1, end }; // attributes: unused in v2
    const delta = readVarlong(b, r, what);
    readVarint(b, r, what); // offsetDelta: the record's position is what numbers it
    const timestamp = h.logAppendTime ? h.maxTimestamp : h.baseTimestamp + delta;
    if (!Number.isSafeInteger(timestamp)) this.#fail(`${what}: timestamp is out of range`);
    const key = this.#bytes(r, what, 'key');
    const value = this.#bytes(r, what, 'value') ?? EMPTY;
    const headerCount = readVarint(b, r, what);
    if (headerCount < 0 || headerCount * 2 > end - r.pos) {
      this.#fail(`${what}: header count ${headerCount} does not fit the record`);
    }
    let headers = NO_HEADERS;
    if (headerCount > 0) {
      const hs: DecodedHeader[] = [];
      for (let k = 0; k < headerCount; k++) {
        const name = this.#bytes(r, what, 'header name');
        if (name === null) this.#fail(`${what}: header ${k} has a null name`);
        hs.push({ name: name.toString('utf8'), value: this.#bytes(r, what, 'header value') ?? EMPTY });
      }
      headers = hs;
    }
    if (r.pos !== end) this.#fail(`${what}: its fields take ${r.pos - c.pos} of its ${length} bytes`);
    c.pos = end;
    this.#read = i + 1;
    const ctx = this.ctx;
    return {
      key,
      value,
      headers,
      timestamp,
      producerId: ctx.producerId,
      sequence: ctx.baseSequence + i,
      index: ctx.firstIndex + i,
    };
  }

  /** A varint length and that many bytes (`null` for length -1), within the record. */
  #bytes(r: Cursor, what: string, field: string): Buffer | null {
    const n = readVarint(this.#b, r, what);
    if (n === -1) return null;
    if (n < 0 || n > r.end - r.pos) this.#fail(`${what}: ${field} length ${n} does not fit the record`);
    const out = this.#b.subarray(r.pos, r.pos + n);
    r.pos += n;
    return out;
  }
}
