/**
 * A tiny, uncompressed Kafka v2 record batch builder for the broker test (the real record-batch
 * module lives in core; this package must not depend on it).
 */
let table: Uint32Array | undefined;

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka's record batches use. */
export function crc32c(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of data) crc = table[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function varint(v: number): Buffer {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  const out: number[] = [];
  while (u >= 0x80) {
    out.push((u & 0x7f) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
  return Buffer.from(out);
}

function record(offsetDelta: number, key: Buffer | null, value: Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]), // attributes
    varint(0), // timestamp delta
    varint(offsetDelta),
    key === null ? varint(-1) : Buffer.concat([varint(key.length), key]),
    varint(value.length),
    value,
    varint(0), // headers
  ]);
  return Buffer.concat([varint(body.length), body]);
}

/** A v2 batch of `values` (keys null), base offset 0, no producer id, CreateTime `timestamp`. */
export function recordBatch(values: Buffer[], timestamp: bigint): Buffer {
  const records = Buffer.concat(values.map((v, i) => record(i, null, v)));
  const afterCrc = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  let o = afterCrc.writeInt16BE(0, 0); // attributes: no compression, CreateTime
  o = afterCrc.writeInt32BE(values.length - 1, o); // last offset delta
  o = afterCrc.writeBigInt64BE(timestamp, o);
  o = afterCrc.writeBigInt64BE(timestamp, o);
  o = afterCrc.writeBigInt64BE(-1n, o); // producer id
  o = afterCrc.writeInt16BE(-1, o); // producer epoch
  o = afterCrc.writeInt32BE(-1, o); // base sequence
  afterCrc.writeInt32BE(values.length, o);
  const crcd = Buffer.concat([afterCrc, records]);
  const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
  head.writeBigInt64BE(0n, 0); // base offset
  head.writeInt32BE(4 + 1 + 4 + crcd.length, 8); // batch length: from leader epoch to the end
  head.writeInt32BE(-1, 12); // partition leader epoch
  head.writeInt8(2, 16); // magic
  head.writeUInt32BE(crc32c(crcd), 17);
  return Buffer.concat([head, crcd]);
}

/** Splits concatenated v2 batches. */
export function splitBatches(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o + 12 <= bytes.length) {
    const end = o + 12 + bytes.readInt32BE(o + 8);
    if (end > bytes.length) break; // a partial batch at the end of a fetch
    out.push(bytes.subarray(o, end));
    o = end;
  }
  return out;
}
