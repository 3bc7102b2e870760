import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type AckLevel, Producer, type ProducerMessage } from '@barge/client';
import { type CodecName, codecNames } from '@barge/core';
import type { Command } from 'commander';
import { brokerAddress, checkReachable } from '../connect.js';
import { CliError } from '../fail.js';
import { readLines } from '../lines.js';
import { Progress } from '../progress.js';

const ACKS: readonly AckLevel[] = ['none', 'received', 'durable'];
/** Messages per `send` call, and sends awaited at once: bounds memory for any input size. */
const SEND_GROUP = 500;
const MAX_PENDING_SENDS = 64;

interface ProduceFlags {
  topic: string;
  broker?: string;
  key?: string;
  acks: string;
  compression?: string;
  lingerMs?: string;
}

export function produceCommand(program: Command): void {
  program
    .command('produce')
    .description('send one message per line of stdin or FILEs; exits 0 only when every message is acked')
    .argument('[files...]', 'files to read (default: stdin)')
    .requiredOption('--topic <topic>', 'topic to produce to')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--key <key>', 'key for every message (default: none, spread over write partitions)')
    .option('--acks <level>', `ack level: ${ACKS.join(', ')}`, 'durable')
    .option('--compression <codec>', `chunk codec: ${codecNames.join(', ')} (default: the topic's)`)
    .option('--linger-ms <ms>', 'how long a chunk waits for more messages', '5')
    .action(async (files: string[], flags: ProduceFlags) => {
      if (!(ACKS as readonly string[]).includes(flags.acks)) {
        throw new CliError(`--acks must be one of ${ACKS.join(', ')} (got "${flags.acks}")`, 2);
      }
      if (flags.compression !== undefined && !(codecNames as readonly string[]).includes(flags.compression)) {
        throw new CliError(
          `--compression must be one of ${codecNames.join(', ')} (got "${flags.compression}")`,
          2,
        );
      }
      const lingerMs = Number(flags.lingerMs ?? '5');
      if (!Number.isInteger(lingerMs) || lingerMs < 0)
        throw new CliError(`--linger-ms must be a non-negative integer (got "${flags.lingerMs}")`, 2);
      for (const f of files) {
        await access(f).catch(() => {
          throw new CliError(`cannot read ${f}: no such file or not readable`, 2);
        });
      }
      await checkReachable(brokerAddress(flags.broker));
      const acks = flags.acks as AckLevel;
      const producer = new Producer({
        brokers: [brokerAddress(flags.broker)],
        acks,
        lingerMs,
        clientId: 'barge-cli',
        ...(flags.compression !== undefined ? { compression: flags.compression as CodecName } : {}),
      });
      await producer.connect();
      const key = flags.key === undefined ? null : Buffer.from(flags.key);
      const progress = new Progress('produce');
      let read = 0;
      let acked = 0;
      let failure: unknown;
      const pending = new Set<Promise<void>>();
      const submit = (messages: ProducerMessage[]) => {
        const p: Promise<void> = producer
          .send({ topic: flags.topic, messages, acks })
          .then((r) => {
            acked += r.length;
            progress.update(read, acked);
          })
          .catch((e: unknown) => {
            failure ??= e;
          })
          .finally(() => pending.delete(p));
        pending.add(p);
      };
      try {
        let group: ProducerMessage[] = [];
        for (const source of inputs(files)) {
          for await (const line of readLines(source)) {
            if (failure) break;
            // Copy: the line may be a view into a read buffer the stream reuses.
            group.push({ key, value: Buffer.from(line) });
            read++;
            if (group.length >= SEND_GROUP) {
              submit(group);
              group = [];
              while (pending.size >= MAX_PENDING_SENDS) await Promise.race(pending);
            }
          }
        }
        if (group.length > 0 && !failure) submit(group);
        await Promise.all(pending);
        await producer.flush();
      } finally {
        progress.stop();
        await producer.disconnect().catch(() => {});
      }
      if (failure) throw failure;
      process.stderr.write(`produced ${acked} messages to ${flags.topic} (acks=${acks})\n`);
    });
}

function* inputs(files: readonly string[]): Generator<Readable> {
  if (files.length === 0) {
    yield process.stdin;
    return;
  }
  for (const f of files) yield createReadStream(f);
}
