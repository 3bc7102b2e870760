import { crc32 } from 'node:zlib';
import type { ConsumedMessage, Consumer, ProducerMessage } from '@barge/client';

/** A small deterministic PRNG (mulberry32), so a failing run can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Most messages small, a few large: 0..1 KiB (96.9%), 1..64 KiB (3%), 64 KiB..1 MiB (0.1%). */
export function messageSize(random: () => number): number {
  const r = random();
  if (r < 0.969) return Math.floor(random() * 1025);
  if (r < 0.999) return 1024 + Math.floor(random() * 63 * 1024);
  return 64 * 1024 + Math.floor(random() * (1024 * 1024 - 64 * 1024 + 1));
}

const FILL = Buffer.alloc(1024 * 1024 + 64);
{
  const r = prng(7);
  for (let i = 0; i < FILL.length; i++) FILL[i] = Math.floor(r() * 256);
}

/**
 * Message `id`: value of a size drawn from the seeded PRNG, filled with bytes that depend on the
 * id, a key, and headers carrying the id and the value's CRC-32 so a consumer verifies each
 * message without keeping the producer's copy.
 */
export function makeMessage(id: number, size: number): ProducerMessage {
  const value = FILL.subarray(id % 64, (id % 64) + size);
  return {
    key: Buffer.from(messageKey(id)),
    value,
    headers: [
      { name: 'id', value: Buffer.from(String(id)) },
      { name: 'crc', value: Buffer.from(String(crc32(value))) },
    ],
  };
}

/** The key of message `id`. */
export function messageKey(id: number): string {
  return `key-${id % 997}`;
}

/** The id of a consumed message, after checking its value against its CRC header and key. */
export function verifyMessage(m: ConsumedMessage): number {
  const id = Number(header(m, 'id'));
  const crc = Number(header(m, 'crc'));
  if (!Number.isInteger(id)) throw new Error(`message without an id header at ${m.partition}/${m.offset}`);
  if (crc32(m.value) !== crc) throw new Error(`message ${id}: value does not match its CRC-32 header`);
  if (m.key?.toString() !== messageKey(id)) throw new Error(`message ${id}: wrong key ${m.key?.toString()}`);
  const expected = FILL.subarray(id % 64, (id % 64) + m.value.length);
  if (!expected.equals(m.value)) throw new Error(`message ${id}: wrong value bytes`);
  return id;
}

function header(m: ConsumedMessage, name: string): string | undefined {
  return m.headers.find((h) => h.name === name)?.value.toString();
}

/**
 * What a test's consumers received: each message verified (`verifyMessage`), counted once per id,
 * with duplicates, per-(producer, write partition) order violations and failures kept for the
 * test to assert on.
 */
export class DeliveryLog {
  readonly seen: Uint8Array;
  delivered = 0;
  duplicates = 0;
  readonly orderViolations: string[] = [];
  /** Messages delivered after a later sequence of their stream (`orderViolations` keeps the first 5). */
  outOfOrder = 0;
  /** Out-of-order messages `isExpectedLate` accepted: not counted in `outOfOrder`. */
  expectedLate = 0;
  readonly failures: string[] = [];
  private readonly lastSequence = new Map<string, number>();

  /**
   * `isExpectedLate` names the out-of-order deliveries the test expects, e.g. chunks a producer
   * re-sent after a later chunk of their write partition was stored (client PROTOCOL-NEEDS item 3).
   */
  constructor(
    readonly total: number,
    private readonly isExpectedLate: (m: ConsumedMessage) => boolean = () => false,
  ) {
    this.seen = new Uint8Array(total);
  }

  record(m: ConsumedMessage): void {
    let id: number;
    try {
      id = verifyMessage(m);
    } catch (e) {
      this.failures.push(String(e));
      return;
    }
    const stream = `${m.producerId}/${m.writePartition}`;
    const prev = this.lastSequence.get(stream) ?? -1;
    if (m.sequence <= prev) {
      if (this.isExpectedLate(m)) {
        this.expectedLate++;
      } else {
        this.outOfOrder++;
        if (this.orderViolations.length < 5)
          this.orderViolations.push(`${stream}: sequence ${m.sequence} after ${prev}`);
      }
    }
    this.lastSequence.set(stream, Math.max(prev, m.sequence));
    if (this.seen[id] === 1) this.duplicates++;
    this.seen[id] = 1;
    this.delivered++;
  }

  /** Runs `consumer` with every message recorded here; a crash of its loop is a failure. */
  consumeWith(consumer: Consumer): Promise<void> {
    consumer.on('crash', (e) => this.failures.push(String(e)));
    return consumer.run({ eachMessage: async ({ message }) => this.record(message) }).catch((e: unknown) => {
      this.failures.push(String(e));
    });
  }

  /** The first `limit` ids (among those `wanted`, default all) never delivered. */
  missing(wanted: (id: number) => boolean = () => true, limit = 10): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.total && out.length < limit; id++)
      if (wanted(id) && this.seen[id] !== 1) out.push(id);
    return out;
  }

  /** Distinct (producer, write partition) streams seen. */
  get streams(): number {
    return this.lastSequence.size;
  }
}
