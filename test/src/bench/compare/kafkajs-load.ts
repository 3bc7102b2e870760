/**
 * The kafkajs side of the comparison, run as its own process by kafkajs-cell.ts:
 *   node kafkajs-load.js produce '{"brokers":[...],"topic":"t","size":1024,"messages":250000}'
 *   node kafkajs-load.js consume '{"brokers":[...],"topic":"t","size":1024,"messages":250000}'
 * and prints one JSON object on stdout. Produce: `sendBatch` calls of up to `batchMessages`
 * messages (and about 2 MiB), acks -1, `inFlight` calls open at once, no keys, no compression.
 * Consume: a new group reading the topic from the beginning with `eachBatch`, timed from the
 * first batch (the group join is not counted).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pct } from '../produce-load.js';

const BATCH_BYTES = 2 * 1024 * 1024;
const IDLE_MS = 60_000;

interface Args {
  brokers: string[];
  topic: string;
  size: number;
  messages: number;
  /** Produce: messages per sendBatch call (at most), and calls open at once. */
  batchMessages: number;
  inFlight: number;
}

async function produce(kafka: Kafka, a: Args) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const pool = Array.from({ length: 64 }, () => randomBytes(a.size));
  // Kafka refuses a record batch above message.max.bytes (1 MiB): about 2 MiB per call, spread
  // over 4 partitions, keeps each partition's share under it.
  const per = Math.max(1, Math.min(a.batchMessages, Math.floor(BATCH_BYTES / a.size)));
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let sent = 0; sent < a.messages; ) {
    while (pending.size >= a.inFlight) await Promise.race(pending);
    const n = Math.min(per, a.messages - sent);
    const messages = Array.from({ length: n }, (_, i) => ({ value: pool[(sent + i) % pool.length]! }));
    sent += n;
    const started = performance.now();
    const p: Promise<void> = producer
      .sendBatch({ topicMessages: [{ topic: a.topic, messages }], acks: -1 })
      .then(() => {
        latencies.push(performance.now() - started);
      });
    const tracked = p.finally(() => pending.delete(tracked));
    pending.add(tracked);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  const avg = latencies.reduce((x, y) => x + y, 0) / latencies.length;
  return {
    messages: a.messages,
    bytes: a.messages * a.size,
    seconds,
    messagesPerBatch: per,
    inFlight: a.inFlight,
    ackMs: {
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      p999: pct(latencies, 99.9),
      max: pct(latencies, 100),
      avg,
    },
  };
}

async function consume(kafka: Kafka, a: Args) {
  const consumer = kafka.consumer({ groupId: `${a.topic}.kafkajs` });
  await consumer.connect();
  await consumer.subscribe({ topic: a.topic, fromBeginning: true });
  let first = 0;
  let last = performance.now();
  let messages = 0;
  let bytes = 0;
  let idle: NodeJS.Timeout | undefined;
  const done = new Promise<number>((resolve) => {
    // Ends short (the caller sees fewer messages) after IDLE_MS without a batch.
    idle = setInterval(() => {
      if (performance.now() - last > IDLE_MS) resolve(last);
    }, 1000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        last = performance.now();
        if (first === 0) first = last;
        for (const m of batch.messages) bytes += m.value?.length ?? 0;
        messages += batch.messages.length;
        if (messages >= a.messages) resolve(last);
      },
    });
  });
  const end = await done;
  clearInterval(idle);
  await consumer.disconnect();
  return { messages, bytes, seconds: (end - first) / 1000 };
}

const [mode, json] = process.argv.slice(2);
if (mode !== 'produce' && mode !== 'consume') throw new Error('usage: kafkajs-load.js produce|consume JSON');
const args = JSON.parse(json ?? '{}') as Args;
const kafka = new Kafka({
  brokers: args.brokers,
  clientId: 'barge-compare-kafkajs',
  logLevel: logLevel.ERROR,
});
const result = mode === 'produce' ? await produce(kafka, args) : await consume(kafka, args);
process.stdout.write(`${JSON.stringify(result)}\n`);
