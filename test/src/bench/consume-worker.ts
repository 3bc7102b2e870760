/**
 * One timed consume for `consume-bench.ts`, in its own process so its CPU time is its own: a
 * `Consumer` with default settings reads `--messages` messages of `--topic` through the broker
 * (`--mode proxy`) or straight from local storage under `--objects` (`--mode direct`), with an
 * `eachMessage` or `eachBatch` handler that only counts. Prints one JSON line:
 * `{ messages, valueBytes, seconds, cpuUserSeconds, cpuSystemSeconds }`.
 */
import { parseArgs } from 'node:util';
import { Consumer, type ConsumerOptions } from '@barge/client';
import { createLocalStorage } from '@barge/storage-local';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    topic: { type: 'string', default: 'bench' },
    group: { type: 'string' },
    messages: { type: 'string' },
    mode: { type: 'string', default: 'proxy' },
    objects: { type: 'string' },
    handler: { type: 'string', default: 'message' },
  },
});
const wanted = Number(values.messages);
const options: ConsumerOptions = { brokers: [values.broker!], groupId: values.group!, logLevel: 'warn' };
if (values.mode === 'direct') options.storage = await createLocalStorage({ root: values.objects! });
const consumer = new Consumer(options);
await consumer.connect();
await consumer.subscribe({ topic: values.topic! });

let messages = 0;
let valueBytes = 0;
let finish!: () => void;
const done = new Promise<void>((resolve) => {
  finish = resolve;
});
const cpuAtStart = process.cpuUsage();
const started = process.hrtime.bigint();
if (values.handler === 'batch') {
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) valueBytes += m.value?.length ?? 0;
      messages += batch.messages.length;
      if (messages >= wanted) finish();
    },
  });
} else {
  await consumer.run({
    eachMessage: async ({ message }) => {
      valueBytes += message.value?.length ?? 0;
      if (++messages >= wanted) finish();
    },
  });
}
await done;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuAtStart);
await consumer.disconnect();
console.log(
  JSON.stringify({
    messages,
    valueBytes,
    seconds,
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
  }),
);
