import { describePointerQueue } from '@barge/testkit';
import { KafkaPointerQueue } from './queue.js';
import { kafkaBrokers, rawKafka, testOptions } from './test-support/env.js';

// The shared PointerQueue contract against the real Kafka from scripts/services.sh.
// Kafka rebalances take seconds (session timeout 6 s, the broker's minimum), hence the waits.
describePointerQueue(
  'kafka',
  async () => {
    const brokers = kafkaBrokers();
    const options = testOptions(brokers);
    const admin = rawKafka(brokers).admin();
    await admin.connect();
    return {
      queue: new KafkaPointerQueue(options),
      reopen: async () => new KafkaPointerQueue(options),
      deleteTopics: async (topics) => {
        await admin.deleteTopics({ topics: topics.map((t) => `${options.topicPrefix}${t}`) });
      },
      dispose: () => admin.disconnect(),
    };
  },
  {
    capabilities: { reopen: true },
    sessionTimeoutMs: 6000,
    waitTimeoutMs: 45_000,
    namePrefix: 'kq',
  },
);
