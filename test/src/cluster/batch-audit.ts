import assert from 'node:assert/strict';
import { type BatchPointer, listAll, type PointerRecord } from '@barge/core';
import { KafkaPointerQueue } from '@barge/pointers-kafka';
import type { LossReport } from '../faults/loss-checker.js';
import { waitFor } from '../harness.js';
import { kafkaQueueOptions, runId } from '../kafka-fixtures.js';
import type { TestCluster } from './cluster-harness.js';

/**
 * Every pointer a cluster published for one topic (read straight from Kafka, in log order) and
 * every batch object in the bucket, checked for what fencing must prevent: one batch sequence
 * of a write partition on two different objects, and a pointer published after a later
 * sequence of its write partition (a late publication by an owner that lost the partition).
 */
export interface BatchAudit {
  pointers: number;
  /** Pointers by the broker id that published them. */
  pointersByBroker: Record<number, number>;
  objects: number;
  /** `wp/sequence: key, key` for each sequence on two different pointers (must be empty). */
  repeatedPointerSequences: string[];
  /** The same for the batch objects in the bucket (must be empty). */
  repeatedObjectSequences: string[];
  /** `wp: sequence s by broker b after sequence s' by broker b'` (must be empty). */
  latePointers: string[];
  /** Pointers of one object published more than once (a retried publication): allowed, reported. */
  republished: number;
  /** Objects no pointer names, by the broker id in their key (uploads whose publication failed or was refused). */
  unpublishedByBroker: Record<number, number>;
  /** `wp: batch s at offset o below offset e, where batch s' ended` for dense offsets handed out twice (must be empty). */
  offsetOverlaps: string[];
  /** Pointers with a message count but no `baseOffset` (must be 0: every broker stamps it). */
  unstamped: number;
  /** Offsets skipped between consecutive batches of a write partition (abandoned publications): allowed, reported. */
  offsetGaps: number;
}

/** What the audit needs of a pointer. */
export type AuditedPointer = Pick<BatchPointer, 'writePartition' | 'sequence' | 'brokerId'> &
  Partial<Pick<BatchPointer, 'baseOffset' | 'messageCount'>> & {
    storage: { key: string };
  };

/** Reads every pointer of `topic` and lists its objects; see `BatchAudit`. */
export async function auditBatches(cluster: TestCluster, topic: string): Promise<BatchAudit> {
  const pointers = await readAllPointers(cluster, topic);
  const objectKeys: string[] = [];
  const storage = cluster.bucket.storage();
  try {
    for await (const o of listAll(storage, `topics/${topic}/`)) objectKeys.push(o.key);
  } finally {
    await storage.close();
  }
  return auditOf(pointers, objectKeys);
}

/** The audit of `pointers` (one topic's, each read partition in log order) and the topic's object keys. */
export function auditOf(pointers: readonly AuditedPointer[], objectKeys: readonly string[]): BatchAudit {
  const pointersByBroker: Record<number, number> = {};
  const keysBySequence = new Map<string, Set<string>>();
  const seenKeys = new Set<string>();
  const lastByPartition = new Map<number, AuditedPointer>();
  const latePointers: string[] = [];
  let republished = 0;
  const offsetEnds = new Map<number, { end: number; sequence: number }>();
  const offsetOverlaps: string[] = [];
  let unstamped = 0;
  let offsetGaps = 0;
  for (const p of pointers) {
    pointersByBroker[p.brokerId] = (pointersByBroker[p.brokerId] ?? 0) + 1;
    const key = baseKey(p.storage.key);
    if (seenKeys.has(key)) {
      republished++;
      continue;
    }
    seenKeys.add(key);
    addTo(keysBySequence, `${p.writePartition}/${p.sequence}`, key);
    const last = lastByPartition.get(p.writePartition);
    if (last && p.sequence <= last.sequence) {
      latePointers.push(
        `wp ${p.writePartition}: sequence ${p.sequence} by broker ${p.brokerId} after sequence ${last.sequence} by broker ${last.brokerId}`,
      );
    }
    if (!last || p.sequence > last.sequence) lastByPartition.set(p.writePartition, p);
    if (p.messageCount === undefined) continue;
    if (p.baseOffset === undefined) {
      unstamped++;
      continue;
    }
    const prev = offsetEnds.get(p.writePartition) ?? { end: 0, sequence: -1 };
    if (p.baseOffset < prev.end) {
      offsetOverlaps.push(
        `wp ${p.writePartition}: batch ${p.sequence} by broker ${p.brokerId} at offset ${p.baseOffset} below offset ${prev.end}, where batch ${prev.sequence} ended`,
      );
    } else offsetGaps += p.baseOffset - prev.end;
    const end = p.baseOffset + p.messageCount;
    if (end > prev.end) offsetEnds.set(p.writePartition, { end, sequence: p.sequence });
  }

  const objectsBySequence = new Map<string, Set<string>>();
  const unpublishedByBroker: Record<number, number> = {};
  for (const key of objectKeys) {
    const m = /^topics\/.+\/(\d+)\/(\d{16})-(\d+)-[0-9a-f]+/.exec(key);
    if (!m) continue;
    addTo(objectsBySequence, `${Number(m[1])}/${Number(m[2])}`, baseKey(key));
    if (!seenKeys.has(baseKey(key))) {
      const broker = Number(m[3]);
      unpublishedByBroker[broker] = (unpublishedByBroker[broker] ?? 0) + 1;
    }
  }

  return {
    pointers: pointers.length,
    pointersByBroker,
    objects: objectKeys.length,
    repeatedPointerSequences: repeats(keysBySequence),
    repeatedObjectSequences: repeats(objectsBySequence),
    latePointers,
    republished,
    unpublishedByBroker,
    offsetOverlaps,
    unstamped,
    offsetGaps,
  };
}

/**
 * What every cluster scenario promises: every delivered message verified, no durable-acked
 * message lost, no damaged data, no failed send, and no batch sequence on two objects or
 * published late. Duplicates and reordering are reported, not asserted.
 */
export function assertClean(report: LossReport, audit: BatchAudit): void {
  assert.deepEqual(report.failures, [], 'the consumer verified every message and did not crash');
  assert.equal(report.lost, 0, `${report.lost} messages acked durable were lost, e.g. ${report.lostIds}`);
  assert.equal(report.skippedDamaged, 0, 'no damaged data');
  // The promise: sends made during a failover are retried (to the new owner), not failed.
  assert.equal(report.failedSends, 0, 'no send failed: the producer retried until a broker acked');
  assert.deepEqual(audit.repeatedPointerSequences, [], 'no batch sequence on two published pointers');
  assert.deepEqual(audit.repeatedObjectSequences, [], 'no batch sequence on two stored objects');
  assert.deepEqual(
    audit.latePointers,
    [],
    'no pointer published after a later sequence of its write partition',
  );
  assert.equal(audit.unstamped, 0, 'every pointer has a dense offset');
  assert.deepEqual(audit.offsetOverlaps, [], 'no dense offset handed out twice');
}

/** One line for the test output. */
export function auditLine(a: BatchAudit): string {
  const byBroker = Object.entries(a.pointersByBroker)
    .map(([id, n]) => `${id}: ${n}`)
    .join(', ');
  const unpublished = Object.entries(a.unpublishedByBroker)
    .map(([id, n]) => `${id}: ${n}`)
    .join(', ');
  return `pointers ${a.pointers} (by broker ${byBroker}; ${a.republished} republished), objects ${a.objects} (unpublished by broker ${unpublished || 'none'}), repeated sequences ${a.repeatedPointerSequences.length} on pointers / ${a.repeatedObjectSequences.length} on objects, late pointers ${a.latePointers.length}, dense offsets: ${a.offsetOverlaps.length} overlaps, ${a.offsetGaps} skipped, ${a.unstamped} unstamped`;
}

/** The pointers of every read partition of `topic` (published until now), each partition in log order. */
async function readAllPointers(cluster: TestCluster, topic: string): Promise<BatchPointer[]> {
  const queue = new KafkaPointerQueue(kafkaQueueOptions(cluster.kafkaBrokers, cluster.run));
  try {
    const partitions = await queue.partitions(topic);
    const highs = await Promise.all(
      Array.from({ length: partitions }, async (_, p) => (await queue.watermarks(topic, p)).high),
    );
    const byPartition: PointerRecord[][] = highs.map(() => []);
    const consumer = await queue.subscribe({ group: `audit-${runId()}`, topic, fromBeginning: true });
    try {
      // Transactional publication puts commit markers between pointers: the high watermark is
      // past the last pointer, so "read up to it" means: assigned everything, then three empty polls.
      let quiet = 0;
      await waitFor(
        `every pointer of ${topic} (high watermarks ${highs.join(', ')})`,
        async () => {
          const records = await consumer.poll({ maxRecords: 1000, timeoutMs: 500 });
          for (const r of records) if (r.offset < highs[r.partition]!) byPartition[r.partition]!.push(r);
          const all = consumer.assignment().length === partitions;
          quiet = records.length === 0 && all ? quiet + 1 : 0;
          return quiet >= 3;
        },
        60_000,
        0,
      );
    } finally {
      await consumer.close();
    }
    return byPartition.flat().map((r) => r.pointer);
  } finally {
    await queue.close();
  }
}

/** A batch key without the suffix of a hedged upload (`-h<n>`): hedges of one batch are one object. */
function baseKey(key: string): string {
  return key.replace(/-h\d+$/, '');
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

function repeats(map: Map<string, Set<string>>): string[] {
  return [...map].filter(([, keys]) => keys.size > 1).map(([seq, keys]) => `${seq}: ${[...keys].join(', ')}`);
}
