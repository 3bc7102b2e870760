import assert from 'node:assert/strict';

/** One JSON line a test Kafka client (franz-go, librdkafka) prints: a delivery report, a consumed record or a commit. */
export interface ClientLine {
  op: 'produce' | 'consume' | 'committed';
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/**
 * Checks a client run that produced `records` keyed records and consumed them with a group:
 * every record acknowledged at its own offset and consumed exactly once with its key and value,
 * offsets dense from 0 in order on each partition, keys spread over partitions and each key in
 * one. Returns the lines and the consumed offsets by partition.
 */
export function checkProducedAndConsumed(stdout: string, records: number) {
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ClientLine);
  const produced = lines.filter((l) => l.op === 'produce');
  const consumed = lines.filter((l) => l.op === 'consume');
  assert.equal(produced.length, records);
  assert.equal(consumed.length, records, 'every record consumed exactly once');

  const at = (l: ClientLine) => `${l.partition}/${l.offset}`;
  const producedAt = new Map(produced.map((l) => [at(l), l]));
  assert.equal(producedAt.size, records, 'each record acknowledged at its own offset');
  for (const c of consumed) {
    const p = producedAt.get(at(c));
    assert.ok(p, `consumed ${at(c)} was never produced`);
    assert.deepEqual([c.key, c.value], [p.key, p.value], at(c));
  }

  const partitions = new Map<number, number[]>();
  for (const c of consumed) partitions.set(c.partition, [...(partitions.get(c.partition) ?? []), c.offset]);
  assert.ok(partitions.size > 1, 'keys spread over the partitions');
  for (const [p, offsets] of partitions) {
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => i),
      `partition ${p}: offsets dense from 0, in order`,
    );
  }
  const partitionOfKey = new Map<string, number>();
  for (const p of produced) {
    assert.equal(
      partitionOfKey.get(p.key) ?? p.partition,
      p.partition,
      `key ${p.key} stays in one partition`,
    );
    partitionOfKey.set(p.key, p.partition);
  }
  return { lines, partitions };
}
