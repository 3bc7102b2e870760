/**
 * Chooses the write partition of each message. Keyed messages go to `murmur2(key) % partitions`
 * (Kafka's default hash, so a key lands on the same partition number as it would in Kafka);
 * unkeyed messages stick to one partition until the chunk being filled for it closes, then
 * move to the next one (round robin), which keeps chunks large when traffic is light.
 */

/** Kafka's murmur2 (seed 0x9747b28c) over the key bytes, as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The write partition of a key: `(murmur2(key) & 0x7fffffff) % partitions`. */
export function partitionForKey(key: Uint8Array | string, partitions: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}

/** Sticky round-robin choice for unkeyed messages, one state per topic. */
export class StickyPartitioner {
  private readonly current = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  /** The partition unkeyed messages of `topic` go to now. */
  partition(topic: string, partitions: number): number {
    let p = this.current.get(topic);
    if (p === undefined || p >= partitions) {
      p = Math.floor(this.random() * partitions) % partitions;
      this.current.set(topic, p);
    }
    return p;
  }

  /** A chunk of `topic` on `partition` closed: if unkeyed messages were sticking to it, move on. */
  chunkClosed(topic: string, partition: number, partitions: number): void {
    const p = this.current.get(topic);
    if (p === partition && partitions > 1) this.current.set(topic, (p + 1) % partitions);
  }
}
