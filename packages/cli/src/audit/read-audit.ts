import { randomUUID } from 'node:crypto';
import { type AuditEnvelope, Consumer, parseEnvelope } from '@barge/client';
import { ApiKey, BrokerResponseError, type DescribeTopicResponse, ErrorCode } from '@barge/core';
import { CatchUp } from '../catch-up.js';
import { withConnection } from '../connect.js';
import { brokerSasl } from '../sasl-flags.js';
import { brokerTls } from '../tls-flags.js';

/** What was read from the audit topic. */
export interface AuditRead {
  readonly envelopes: AuditEnvelope[];
  /** The audit topic does not exist: nothing was ever audited there. */
  readonly missing: boolean;
  /** Messages of the audit topic that are not audit envelopes (ignored). */
  readonly unreadable: number;
  /** Batches or chunks of the audit topic that could not be read (their records count as missing). */
  readonly skipped: number;
  /** Reading stopped after `idleMs` without new data before every partition's end was reached. */
  readonly stalled: boolean;
}

/** How often reading checks whether every partition was read to its end. */
const CHECK_MS = 50;

/**
 * Reads the audit envelopes appended to `auditTopic` since `since` (ms since the epoch), up to
 * the end every read partition had when reading started, as a consumer of a group of its own
 * that commits nothing. Stops early after `idleMs` without progress.
 */
export async function readAuditTopic(
  address: string,
  auditTopic: string,
  since: number,
  idleMs: number,
): Promise<AuditRead> {
  const ends = await partitionEnds(address, auditTopic, since);
  if (ends === undefined) return { envelopes: [], missing: true, unreadable: 0, skipped: 0, stalled: false };
  const catchUp = new CatchUp(new Map([...ends].map(([p, e]) => [p, e.high])));
  for (const [p, e] of ends) catchUp.startsAt(p, e.start);
  const consumer = new Consumer({
    brokers: [address],
    groupId: `barge-audit-${randomUUID().slice(0, 8)}`,
    clientId: 'barge-cli-audit',
    tls: brokerTls(),
    sasl: brokerSasl(),
    fromBeginning: true,
    fromTime: since,
    autoCommit: false,
    onDamagedData: 'skip',
  });
  const envelopes: AuditEnvelope[] = [];
  let unreadable = 0;
  let skipped = 0;
  let lastProgress = Date.now();
  consumer.on('consumer.skipped', () => {
    skipped++;
  });
  consumer.on('rebalance', (_topic, assigned) => catchUp.assigned(assigned));
  let crash: unknown;
  consumer.on('crash', (e) => {
    crash = e;
  });
  let stalled = false;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: auditTopic });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        lastProgress = Date.now();
        for (const m of batch.messages) {
          const e = parseEnvelope(m.value);
          if (e) envelopes.push(e);
          else unreadable++;
        }
      },
    });
    lastProgress = Date.now(); // joined
    for (;;) {
      if (crash !== undefined) throw crash;
      if (catchUp.reached((p) => consumer.position(auditTopic, p)?.offset)) break;
      if (Date.now() - lastProgress > idleMs) {
        stalled = true;
        break;
      }
      await new Promise((r) => setTimeout(r, CHECK_MS));
    }
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return { envelopes, missing: false, unreadable, skipped, stalled };
}

/** Per read partition of the audit topic: where reading from `since` starts, and its end now. Undefined when the topic does not exist. */
async function partitionEnds(
  address: string,
  topic: string,
  since: number,
): Promise<Map<number, { start: number; high: number }> | undefined> {
  return withConnection(address, async (c) => {
    let described: DescribeTopicResponse;
    try {
      described = await c.request(ApiKey.DescribeTopic, { name: topic });
    } catch (e) {
      if (e instanceof BrokerResponseError && e.errorCode === ErrorCode.UNKNOWN_TOPIC) return undefined;
      throw e;
    }
    const ends = new Map<number, { start: number; high: number }>();
    for (const w of described.partitions) {
      const { offset } = await c.request(ApiKey.OffsetForTimestamp, {
        topic,
        partition: w.partition,
        timestamp: since,
      });
      ends.set(w.partition, { start: Math.max(w.low, Math.min(offset, w.high)), high: w.high });
    }
    return ends;
  });
}
