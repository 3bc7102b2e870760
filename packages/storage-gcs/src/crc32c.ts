import { crc32c } from '@barge/core';

/**
 * `@google-cloud/storage` 7 ships a byte-at-a-time CRC-32C that runs at about 55 MB/s, which caps
 * every validated upload and download; core's slice-by-8 one is about 15× faster. `FastCrc32c`
 * plugs it into the client as its `crc32cGenerator`.
 */
export { crc32c };

/** The client's `CRC32CValidator` interface: base64 of the big-endian CRC, as in `x-goog-hash`. */
export class FastCrc32c {
  private crc = 0;
  update(data: Buffer): void {
    this.crc = crc32c(data, this.crc);
  }
  toString(): string {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc >>> 0);
    return b.toString('base64');
  }
  validate(value: string): boolean {
    return value === this.toString();
  }
}
