/**
 * Cost model of docs/benchmarks.md ("Cost model: object storage vs replicated Kafka"): storage
 * requests, bytes and list prices per GB produced, next to a 3-way replicated Kafka's cross-zone
 * traffic. Pure arithmetic from Barge's own defaults and sizes; prints the doc's tables.
 *
 *   npx tsc -b test && node test/dist/bench/cost-model.js
 */
import { batchHeaderLength, batchSettingsSchema, encodePointer } from '@barge/core';

const GB = 1e9;
const MiB = 1024 * 1024;

/** List prices assumed (USD), as published in 2025; check current pricing. */
const PRICES = {
  s3: { put: 0.005 / 1000, get: 0.0004 / 1000, gbMonth: 0.023 },
  gcs: { put: 0.005 / 1000, get: 0.0004 / 1000, gbMonth: 0.02 },
  azure: { put: 0.065 / 10_000, get: 0.005 / 10_000, gbMonth: 0.021 },
  /** AWS inter-AZ transfer, charged on both sides. */
  crossZonePerGb: 0.02,
} as const;

/** Client defaults that shape objects: chunks of at most 1 MiB, closed after 5 ms of linger. */
const MAX_CHUNK = MiB;
const LINGER_S = 0.005;
/** Objects up to this size are read whole by a consumer; larger ones header first, then the chunks. */
const WHOLE_OBJECT = MiB;

/** A pointer as the broker publishes it, with realistic field widths (S3, 8 MiB object). */
function pointerBytes(topic: string): number {
  return encodePointer({
    v: 1,
    topic,
    writePartition: 12,
    sequence: 1_234_567,
    brokerId: 2,
    storage: {
      adapter: 's3',
      location: 'barge-prod-events',
      key: `topics/${topic}/12/0000000001234567-2-a1b2c3d4e5f6`,
    },
    objectSize: 8 * MiB,
    headerLength: 662,
    messageCount: 8192,
    chunkCount: 9,
    firstTimestamp: 1_764_700_000_000,
    lastTimestamp: 1_764_700_000_250,
    createdAt: 1_764_700_000_260,
    headerCrc: 3_123_456_789,
  }).length;
}

interface Case {
  mbps: number;
  partitions: number;
  maxDelayMs: number;
  maxBytes: number;
}

function model(c: Case) {
  const perPartition = (c.mbps * 1e6) / c.partitions;
  // A batch closes maxDelayMs after its first chunk, or before a request would pass maxBytes.
  const payload = Math.min(c.maxBytes, (perPartition * c.maxDelayMs) / 1000);
  const chunk = Math.min(MAX_CHUNK, perPartition * LINGER_S);
  const header = batchHeaderLength(6, Math.max(1, Math.ceil(payload / chunk)));
  const objects = GB / payload;
  const getsPerObject = payload + header <= WHOLE_OBJECT ? 1 : 2;
  const gets = objects * getsPerObject;
  const cost = (p: { put: number; get: number }) => objects * p.put + gets * p.get;
  return {
    perPartition,
    payload,
    header,
    objects,
    gets,
    s3: cost(PRICES.s3),
    gcs: cost(PRICES.gcs),
    azure: cost(PRICES.azure),
  };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const usd = (n: number) => (n >= 0.01 ? `$${n.toFixed(3)}` : `$${n.toFixed(4)}`);
const size = (b: number) => (b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : `${fmt(b / 1024)} KiB`);

function main(): void {
  const defaults = batchSettingsSchema.parse({});
  const pointer = pointerBytes('orders');
  const barge = (2 / 3) * PRICES.crossZonePerGb; // producer → broker; storage and direct reads stay in-region
  const kafka = (2 / 3 + 2 + 2 / 3) * PRICES.crossZonePerGb;
  const kafkaFff = (2 / 3 + 2) * PRICES.crossZonePerGb;
  console.log(
    `# batch defaults: maxBytes ${defaults.maxBytes}, maxDelayMs ${defaults.maxDelayMs}; pointer ${pointer} bytes`,
  );
  console.log(
    `# cross-zone $/GB: Barge producer hop ${usd(barge)}, Kafka ${usd(kafka)} (${usd(kafkaFff)} with fetch-from-follower)\n`,
  );
  console.log(
    '| produce MB/s | write partitions | batch.maxDelayMs | MB/s per partition | object | objects (PUTs) per GB | GETs per GB per group | pointer KB per GB | S3 requests $/GB | GCS | Azure | Barge + S3, with producer cross-zone $/GB | Kafka RF 3 cross-zone $/GB |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const maxDelayMs of [50, defaults.maxDelayMs]) {
    for (const mbps of [10, 100, 1000]) {
      for (const partitions of [4, 16]) {
        const m = model({ mbps, partitions, maxDelayMs, maxBytes: defaults.maxBytes });
        console.log(
          `| ${fmt(mbps)} | ${partitions} | ${maxDelayMs} | ${fmt(m.perPartition / 1e6, 1)} | ${size(m.payload + m.header)} | ${fmt(m.objects)} | ${fmt(m.gets)} | ${fmt((m.objects * pointer) / 1000)} | ${usd(m.s3)} | ${usd(m.gcs)} | ${usd(m.azure)} | ${usd(m.s3 + barge)} | ${usd(kafka)} (${usd(kafkaFff)}) |`,
        );
      }
    }
  }
}

main();
