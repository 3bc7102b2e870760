/** Topics on the test Kafka for the Kafka cells (Java tools, kafkajs), created and deleted per cell. */
import { Kafka, logLevel } from 'kafkajs';

/**
 * A topic with `partitions` partitions and one replica. The test Kafka keeps at most 64 MiB per
 * partition (`log.retention.bytes`); a cell writes up to a few hundred MB, which retention must
 * not cut before the consumer has read it, so this topic keeps everything.
 */
export async function createTopic(
  brokers: readonly string[],
  topic: string,
  partitions: number,
): Promise<void> {
  const admin = new Kafka({
    brokers: [...brokers],
    clientId: 'barge-compare',
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.bytes', value: '-1' },
            { name: 'retention.ms', value: '-1' },
          ],
        },
      ],
    });
    if (!created) throw new Error(`Kafka topic ${topic} exists already`);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topics starting with `prefix` (best effort: a failure is reported, not thrown). */
export async function deleteTopics(brokers: readonly string[], prefix: string): Promise<void> {
  const admin = new Kafka({
    brokers: [...brokers],
    clientId: 'barge-compare',
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } catch (e) {
    process.stderr.write(`compare: could not delete Kafka topics ${prefix}*: ${String(e)}\n`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
