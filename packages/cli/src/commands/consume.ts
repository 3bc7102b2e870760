import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { Consumer } from '@barge/client';
import type { Command } from 'commander';
import { brokerAddress, checkReachable } from '../connect.js';
import { CliError, parsePositiveInt } from '../fail.js';

interface ConsumeFlags {
  topic: string;
  broker?: string;
  group?: string;
  fromBeginning?: boolean;
  fromTime?: string;
  maxMessages?: string;
  output?: string;
}

export function consumeCommand(program: Command): void {
  program
    .command('consume')
    .description('print message values, one per line (exact bytes, newline-terminated)')
    .requiredOption('--topic <topic>', 'topic to consume')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--group <group>', 'consumer group (default: a new random group)')
    .option('--from-beginning', 'start at the earliest message where the group has no committed offset')
    .option('--from-time <iso>', 'start at the first message at or after this time (ISO 8601)')
    .option('--max-messages <n>', 'exit after N messages, having committed exactly what was printed')
    .option('--output <file>', 'write to FILE instead of stdout')
    .action(async (flags: ConsumeFlags) => {
      if (flags.fromBeginning && flags.fromTime !== undefined) {
        throw new CliError('use either --from-beginning or --from-time, not both', 2);
      }
      let fromTime: number | undefined;
      if (flags.fromTime !== undefined) {
        fromTime = Date.parse(flags.fromTime);
        if (Number.isNaN(fromTime)) {
          throw new CliError(
            `--from-time must be an ISO 8601 time such as 2026-11-25T10:00:00Z (got "${flags.fromTime}")`,
            2,
          );
        }
      }
      const max =
        flags.maxMessages === undefined ? undefined : parsePositiveInt(flags.maxMessages, '--max-messages');
      await checkReachable(brokerAddress(flags.broker));
      const out: Writable = flags.output ? createWriteStream(flags.output) : process.stdout;
      const consumer = new Consumer({
        brokers: [brokerAddress(flags.broker)],
        groupId: flags.group ?? `barge-cli-${randomUUID().slice(0, 8)}`,
        fromBeginning: flags.fromBeginning === true || fromTime !== undefined,
        ...(fromTime !== undefined ? { fromTime } : {}),
        autoCommit: false,
        clientId: 'barge-cli',
      });
      let stopping = false;
      const stop = () => {
        stopping = true;
        void consumer.disconnect();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await consumer.connect();
      await consumer.subscribe({ topic: flags.topic });
      let count = 0;
      let lastCommit = Date.now();
      try {
        for await (const m of consumer) {
          await write(out, m.value);
          consumer.resolveOffset(m);
          count++;
          if (max !== undefined && count >= max) break;
          // Commit what was printed at least every second.
          if (Date.now() - lastCommit >= 1000) {
            await consumer.commit();
            lastCommit = Date.now();
          }
          if (stopping) break;
        }
        await consumer.commit();
      } finally {
        await consumer.disconnect().catch(() => {});
        if (out !== process.stdout) await new Promise<void>((r) => out.end(r));
      }
      process.stderr.write(`consumed ${count} messages from ${flags.topic}\n`);
    });
}

function write(out: Writable, value: Buffer): Promise<void> {
  const line = Buffer.allocUnsafe(value.length + 1);
  value.copy(line);
  line[value.length] = 0x0a;
  if (out.write(line)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    out.once('drain', resolve);
    out.once('error', reject);
  });
}
