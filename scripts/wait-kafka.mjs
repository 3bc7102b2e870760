// Kafka readiness probe with the client the tests use (kafkajs 2.2.4):
// create a topic, list it, delete it, and warm the group coordinator
// (creates __consumer_offsets). Retries until TIMEOUT_MS has passed.
// Run from the repo root (kafkajs must resolve there):
//   node scripts/wait-kafka.mjs [BROKERS=127.0.0.1:9092] [TIMEOUT_MS=60000]
// scripts/services.sh uses it when kafkajs is installed, else a Java
// AdminClient probe. With KAFKA_PROBE_SASL_CA, _USER and _PASSWORD set it
// goes over SASL_SSL (SCRAM-SHA-512), trusting that CA (scripts/kafka/sasl-ssl.sh).
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const brokers = (process.argv[2] || '127.0.0.1:9092').split(',');
const timeoutMs = Number(process.argv[3] || 60_000);
const deadline = Date.now() + timeoutMs;
const {
  KAFKA_PROBE_SASL_CA: saslCa,
  KAFKA_PROBE_SASL_USER: username,
  KAFKA_PROBE_SASL_PASSWORD: password,
} = process.env;
const security = saslCa
  ? {
      ssl: { ca: [readFileSync(saslCa, 'utf8')] },
      sasl: { mechanism: 'scram-sha-512', username: username ?? '', password: password ?? '' },
    }
  : {};
const kafka = new Kafka({
  clientId: 'barge-wait-kafka',
  brokers,
  ...security,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 3000,
  requestTimeout: 10_000,
  retry: { retries: 5, initialRetryTime: 200 },
});

let lastError;
for (;;) {
  const admin = kafka.admin();
  const topic = `barge-probe-${Date.now()}`;
  try {
    await admin.connect();
    await admin.describeCluster();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) throw new Error(`created topic not listed: ${topics}`);
    await admin.deleteTopics({ topics: [topic] });
    await admin.fetchOffsets({ groupId: 'barge-probe' });
    await admin.disconnect();
    console.log(`kafka probe (kafkajs): created, listed and deleted ${topic}`);
    process.exit(0);
  } catch (err) {
    lastError = err;
    try {
      await admin.disconnect();
    } catch {
      /* ignore */
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
}
console.error(`kafka probe FAILED after ${timeoutMs} ms: ${lastError?.stack ?? lastError}`);
process.exit(1);
