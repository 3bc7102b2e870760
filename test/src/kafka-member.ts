/**
 * One consumer-group member in its own process, for the e2e test that SIGKILLs a member. It reads
 * pointers straight from Kafka (`KafkaPointerQueue` as `pointers`) and batches straight from S3
 * (`S3Storage` as `storage`): no broker involved, so a killed member is only noticed by Kafka's
 * session timeout.
 *
 * argv[2] is JSON: { kafka: KafkaPointerQueueOptions, s3: S3StorageOptions, topic, group,
 * sessionTimeoutMs }. Prints one line per message after verifying its bytes: `<id> <partition>
 * <offset> <messageIndex>`, and `#assign <json>` at every assignment. Auto-commits every 200 ms.
 */
import { Consumer } from '@barge/client';
import { KafkaPointerQueue, type KafkaPointerQueueOptions } from '@barge/pointers-kafka';
import { S3Storage, type S3StorageOptions } from '@barge/storage-s3';
import { verifyAnyMessage } from './kafka-fixtures.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  kafka: KafkaPointerQueueOptions;
  s3: S3StorageOptions;
  topic: string;
  group: string;
  sessionTimeoutMs: number;
};

const pointers = new KafkaPointerQueue(args.kafka);
const storage = new S3Storage(args.s3);
const consumer = new Consumer({
  groupId: args.group,
  clientId: `member-${process.pid}`,
  pointers,
  storage,
  sessionTimeoutMs: args.sessionTimeoutMs,
  autoCommitIntervalMs: 200,
  fromBeginning: true,
});
consumer.on('rebalance', (_topic, assignment) => {
  process.stdout.write(`#assign ${JSON.stringify([...assignment].sort())}\n`);
});
consumer.on('crash', (e) => {
  process.stderr.write(`consumer crashed: ${String(e)}\n`);
  process.exit(3);
});
const shutdown = () => {
  void consumer
    .disconnect()
    .then(() => Promise.allSettled([pointers.close(), storage.close()]))
    .finally(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
await consumer.connect();
await consumer.subscribe({ topic: args.topic });
await consumer.run({
  eachMessage: async ({ message: m }) => {
    const id = verifyAnyMessage(m);
    // Written synchronously (stdout is a pipe on Linux) before the position can be committed.
    process.stdout.write(`${id} ${m.partition} ${m.offset} ${m.messageIndex}\n`);
  },
});
