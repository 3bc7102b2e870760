import { CorruptDataError, InvalidInputError } from '../errors.js';

/**
 * Kafka's zigzag varints (protobuf style): `varint` for 32-bit values, `varlong` for 64-bit
 * ones. Readers throw `CorruptDataError` for a varint that runs past `end`, is longer than its
 * type allows, or (varlong) does not fit a JavaScript safe integer.
 */

/** A cursor over a buffer region, for the record decoders. */
export interface Cursor {
  pos: number;
  readonly end: number;
}

/** Reads a zigzag varint (at most 5 bytes) at `c.pos`, advancing it. */
export function readVarint(b: Buffer, c: Cursor, what: string): number {
  let p = c.pos;
  const end = c.end;
  let u = 0;
  let shift = 0;
  for (;;) {
    if (p >= end) throw new CorruptDataError(`${what}: varint runs past the end of the records`);
    const byte = b[p++]!;
    if (shift === 28) {
      if (byte > 0x0f) throw new CorruptDataError(`${what}: varint is longer than 32 bits`);
      u |= byte << 28;
      break;
    }
    u |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  c.pos = p;
  u >>>= 0;
  return (u >>> 1) ^ -(u & 1);
}

const TWO_28 = 2 ** 28;

/** Reads a zigzag varlong (at most 10 bytes) at `c.pos`; the value must be a safe integer. */
export function readVarlong(b: Buffer, c: Cursor, what: string): number {
  let p = c.pos;
  const end = c.end;
  // The low 28 bits with bit operations, the rest by multiplication (exact below 2^53).
  let lo = 0;
  let shift = 0;
  for (;;) {
    if (p >= end) throw new CorruptDataError(`${what}: varlong runs past the end of the records`);
    const byte = b[p++]!;
    lo |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      c.pos = p;
      return (lo >>> 1) ^ -(lo & 1);
    }
    shift += 7;
    if (shift === 28) break;
  }
  let hi = 0;
  let scale = 1;
  for (let k = 0; ; k++) {
    if (p >= end) throw new CorruptDataError(`${what}: varlong runs past the end of the records`);
    if (k === 6) throw new CorruptDataError(`${what}: varlong is longer than 64 bits`);
    const byte = b[p++]!;
    hi += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) break;
  }
  // u = hi * 2^28 + lo must stay below 2^53 to be exact.
  if (hi >= 2 ** 25) throw new CorruptDataError(`${what}: varlong does not fit a safe integer`);
  c.pos = p;
  const u = hi * TWO_28 + (lo >>> 0);
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Bytes a zigzag varint takes for the 32-bit signed `v`. */
export function varintSize(v: number): number {
  return unsignedSize(((v << 1) ^ (v >> 31)) >>> 0);
}

/** Bytes a zigzag varlong takes for the safe integer `v`. */
export function varlongSize(v: number): number {
  return unsignedSize(zigzag64(v));
}

function unsignedSize(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

function zigzag64(v: number): number {
  if (!Number.isSafeInteger(v) || Math.abs(v) > 2 ** 51) {
    throw new InvalidInputError(`${v} is out of the range this encoder writes as a varlong`);
  }
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** Writes the 32-bit signed `v` as a zigzag varint at `p`; returns the position after it. */
export function writeVarint(b: Buffer, p: number, v: number): number {
  return writeUnsigned(b, p, ((v << 1) ^ (v >> 31)) >>> 0);
}

/** Writes the safe integer `v` (|v| ≤ 2^51) as a zigzag varlong at `p`. */
export function writeVarlong(b: Buffer, p: number, v: number): number {
  return writeUnsigned(b, p, zigzag64(v));
}

function writeUnsigned(b: Buffer, p: number, u: number): number {
  while (u >= 0x80) {
    b[p++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  b[p++] = u;
  return p;
}
