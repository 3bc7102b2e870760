/**
 * A consumer-group member in its own process, for the test that SIGKILLs a member.
 * Config comes as JSON in argv[2]: { options, group, topic }. Prints one JSON line per
 * assignment: {"assignment":[...]}.
 */
import { KafkaPointerQueue } from '../queue.js';

const { options, group, topic } = JSON.parse(process.argv[2] ?? '{}') as {
  options: ConstructorParameters<typeof KafkaPointerQueue>[0];
  group: string;
  topic: string;
};
const queue = new KafkaPointerQueue(options);
const consumer = await queue.subscribe({ group, topic, clientId: `child-${process.pid}` });
const report = (partitions: readonly number[]) =>
  process.stdout.write(`${JSON.stringify({ assignment: [...partitions] })}\n`);
consumer.onAssignment(report);
report(consumer.assignment());
for (;;) await consumer.poll({ timeoutMs: 1000 });
