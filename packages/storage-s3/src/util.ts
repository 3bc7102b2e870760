import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';

let crcTable: Int32Array | undefined;
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (IEEE) over several buffers, as S3's `x-amz-checksum-crc32` wants it (base64, big-endian). */
export function crc32Base64(parts: readonly Buffer[]): string {
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString('base64');
}

function crc32(data: Uint8Array, initial: number): number {
  if (nativeCrc32) return nativeCrc32(data, initial);
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~initial;
  for (let i = 0; i < data.length; i++)
    c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** A body of several buffers that is turned into a fresh stream for every attempt of a request. */
export class VectoredBody {
  constructor(readonly parts: readonly Buffer[]) {}
  get length(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    return n;
  }
  stream(): Readable {
    return Readable.from(this.parts, { objectMode: false });
  }
}
