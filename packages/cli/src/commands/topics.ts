import { ApiKey, codecNames, parseSize, type TopicInfo } from '@barge/core';
import type { Command } from 'commander';
import { brokerAddress, withConnection } from '../connect.js';
import { CliError, parsePositiveInt } from '../fail.js';

interface CreateFlags {
  broker?: string;
  partitions?: string;
  readPartitions?: string;
  maxBytes?: string;
  maxMessages?: string;
  maxDelayMs?: string;
  compression?: string;
  ifNotExists?: boolean;
}

export function topicsCommand(program: Command): void {
  const topics = program.command('topics').description('create, list and describe topics');

  topics
    .command('create')
    .description('create a topic')
    .argument('<name>', 'topic name: 1-200 characters of A-Z a-z 0-9 . _ -')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--partitions <n>', 'write partitions (one batch stream each)', '1')
    .option('--read-partitions <n>', 'read partitions of the pointer queue (consumer parallelism)', '1')
    .option('--max-bytes <size>', 'close a batch at this size, e.g. 8MiB')
    .option('--max-messages <n>', 'close a batch at this many messages')
    .option('--max-delay-ms <ms>', 'close a batch this long after its first message')
    .option('--compression <codec>', `codec producers should use: ${codecNames.join(', ')}`)
    .option('--if-not-exists', 'succeed if the topic already exists with the same partitions')
    .action(async (name: string, flags: CreateFlags) => {
      if (flags.compression !== undefined && !(codecNames as readonly string[]).includes(flags.compression)) {
        throw new CliError(
          `--compression must be one of ${codecNames.join(', ')} (got "${flags.compression}")`,
          2,
        );
      }
      const batch: { maxBytes?: number; maxMessages?: number; maxDelayMs?: number } = {};
      if (flags.maxBytes !== undefined) {
        try {
          batch.maxBytes = parseSize(flags.maxBytes, '--max-bytes');
        } catch (e) {
          throw new CliError((e as Error).message, 2);
        }
      }
      if (flags.maxMessages !== undefined)
        batch.maxMessages = parsePositiveInt(flags.maxMessages, '--max-messages');
      if (flags.maxDelayMs !== undefined) {
        if (!/^\d+$/.test(flags.maxDelayMs))
          throw new CliError(`--max-delay-ms must be a non-negative integer (got "${flags.maxDelayMs}")`, 2);
        batch.maxDelayMs = Number(flags.maxDelayMs);
      }
      const request = {
        name,
        writePartitions: parsePositiveInt(flags.partitions ?? '1', '--partitions'),
        readPartitions: parsePositiveInt(flags.readPartitions ?? '1', '--read-partitions'),
        batch,
        ...(flags.compression !== undefined ? { compression: flags.compression } : {}),
        ifNotExists: flags.ifNotExists === true,
      };
      const r = await withConnection(brokerAddress(flags.broker), (c) =>
        c.request(ApiKey.CreateTopic, request),
      );
      process.stdout.write(`${r.created ? 'created' : 'exists'} ${formatTopic(r.topic)}\n`);
    });

  topics
    .command('list')
    .description('list topics')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--json', 'print JSON')
    .action(async (flags: { broker?: string; json?: boolean }) => {
      const r = await withConnection(brokerAddress(flags.broker), (c) => c.request(ApiKey.ListTopics, {}));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(r.topics, null, 2)}\n`);
        return;
      }
      for (const t of r.topics) process.stdout.write(`${formatTopic(t)}\n`);
    });

  topics
    .command('describe')
    .description(
      'show a topic: partitions, batch settings, pointer watermarks (on Kafka pointers, commit markers take offsets too)',
    )
    .argument('<name>', 'topic name')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { broker?: string; json?: boolean }) => {
      const r = await withConnection(brokerAddress(flags.broker), (c) =>
        c.request(ApiKey.DescribeTopic, { name }),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${formatTopic(r.topic)}\n`);
      for (const p of r.partitions) {
        process.stdout.write(
          `  read partition ${p.partition}: offsets ${p.low}..${p.high} (${p.high - p.low} offsets)\n`,
        );
      }
    });
}

export function formatTopic(t: TopicInfo): string {
  const b = t.batch;
  return `${t.name} writePartitions=${t.writePartitions} readPartitions=${t.readPartitions} compression=${t.compression} batch.maxBytes=${b.maxBytes} batch.maxMessages=${b.maxMessages} batch.maxDelayMs=${b.maxDelayMs}`;
}
