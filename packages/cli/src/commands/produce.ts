import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type AckLevel, Producer, type ProducerMessage } from '@barge/client';
import { type CodecName, codecNames } from '@barge/core';
import { type Command, Option } from 'commander';
import { brokerAddress, checkReachable } from '../connect.js';
import { CliError, parseNonNegativeInt } from '../fail.js';
import { readLines } from '../lines.js';
import { FORMATS, type InputFormat, inputFormat, messageOf } from '../produce-input.js';
import { Progress } from '../progress.js';
import { brokerSasl } from '../sasl-flags.js';
import { brokerTls } from '../tls-flags.js';

const ACKS: readonly AckLevel[] = ['none', 'received', 'durable'];
/** Messages per `send` call, and sends awaited at once: bounds memory for any input size. */
const SEND_GROUP = 500;
const MAX_PENDING_SENDS = 64;

interface ProduceFlags {
  topic: string;
  broker?: string;
  format: string;
  key?: string;
  keySeparator?: string;
  header?: string[];
  partition?: string;
  acks: string;
  compression?: string;
  lingerMs?: string;
}

const HELP = `
Each input line is one message (split on \\n only; every other byte is kept, \\r included).
--format value (default): the line is the value; with -K SEP, the line is KEY SEP VALUE, split at
the first SEP (a line without SEP has no key). --format json: each line is an object
  {"key": "k", "value": "v", "headers": {"name": "value"}, "timestamp": 1767225600000}
where key, headers and timestamp are optional and headers may also be a list of
{"name", "value"} (names may repeat); with "encoding": "base64" the key, value and header values
are base64 (binary data). \`barge consume --format json\` prints this form (its extra fields are
ignored), so its output can be produced again. Blank JSON lines are skipped.

Examples:
  printf 'hello\\nworld\\n' | barge produce --topic logs
  printf 'user-1:clicked\\n' | barge produce --topic logs -K : --header source=web
  barge produce --topic logs --format json events.jsonl
  barge consume --topic logs --offset earliest --exit-at-end --format json | barge produce --topic copy --format json
`;

export function produceCommand(program: Command): void {
  program
    .command('produce')
    .description('send one message per line of stdin or FILEs; exits 0 only when every message is acked')
    .argument('[files...]', 'files to read, in order ("-" or none: stdin)')
    .requiredOption('--topic <topic>', 'topic to produce to')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .addOption(
      new Option('--format <format>', 'input lines: value (the line is the value) or json')
        .choices(FORMATS)
        .default('value'),
    )
    .option(
      '-K, --key-separator <sep>',
      'with --format value: each line is KEY SEP VALUE, split at the first SEP',
    )
    .option('--key <key>', 'key for every message (default: none, spread over write partitions)')
    .option(
      '-H, --header <name=value>',
      'header for every message (repeatable)',
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--partition <n>', 'write every message to this write partition (default: by key, or spread)')
    .option('--acks <level>', `ack level: ${ACKS.join(', ')}`, 'durable')
    .option('--compression <codec>', `chunk codec: ${codecNames.join(', ')} (default: the topic's)`)
    .option('--linger-ms <ms>', 'how long a chunk waits for more messages', '5')
    .addHelpText('after', HELP)
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
      const input = inputFormat(flags);
      const partition =
        flags.partition === undefined ? undefined : parseNonNegativeInt(flags.partition, '--partition');
      for (const f of files) {
        if (f === '-') continue;
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
        tls: brokerTls(),
        sasl: brokerSasl(),
        ...(flags.compression !== undefined ? { compression: flags.compression as CodecName } : {}),
      });
      await producer.connect();
      try {
        if (partition !== undefined) await checkWritePartition(producer, flags.topic, partition);
        await send(producer, { topic: flags.topic, acks, files, input, partition });
      } finally {
        await producer.disconnect().catch(() => {});
      }
    });
}

async function checkWritePartition(producer: Producer, topic: string, partition: number): Promise<void> {
  const { writePartitions } = await producer.topicInfo(topic);
  if (partition >= writePartitions) {
    throw new CliError(
      `--partition ${partition}: topic ${topic} has write partitions 0..${writePartitions - 1}`,
      2,
    );
  }
}

/**
 * Reads the inputs line by line and sends their messages in groups, many sends in flight. Stops at
 * the first failed send or bad line; throws after the messages sent before it were acked.
 */
async function send(
  producer: Producer,
  job: { topic: string; acks: AckLevel; files: string[]; input: InputFormat; partition: number | undefined },
): Promise<void> {
  const progress = new Progress('produce');
  let read = 0;
  let acked = 0;
  let failure: unknown; // a send that failed: nothing more is sent
  let badLine: CliError | undefined; // the lines before it are still sent
  const pending = new Set<Promise<void>>();
  const submit = (messages: ProducerMessage[]) => {
    const p: Promise<void> = producer
      .send({ topic: job.topic, messages, acks: job.acks })
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
    for (const { name, stream } of inputs(job.files)) {
      let lineNo = 0;
      for await (const line of readLines(stream)) {
        if (failure) break;
        lineNo++;
        let message: ProducerMessage | undefined;
        try {
          message = messageOf(line, job.input, `${name} line ${lineNo}`);
        } catch (e) {
          if (!(e instanceof CliError)) throw e;
          badLine = e;
          break;
        }
        if (message === undefined) continue;
        if (job.partition !== undefined) message.writePartition = job.partition;
        group.push(message);
        read++;
        if (group.length >= SEND_GROUP) {
          submit(group);
          group = [];
          while (pending.size >= MAX_PENDING_SENDS) await Promise.race(pending);
        }
      }
      if (failure || badLine) {
        stream.destroy();
        break;
      }
    }
    if (group.length > 0 && !failure) submit(group);
    await Promise.all(pending);
    await producer.flush();
  } finally {
    progress.stop();
  }
  if (failure) throw failure;
  if (badLine) {
    const before = `${acked} message${acked === 1 ? '' : 's'} before it ${acked === 1 ? 'was' : 'were'} produced`;
    throw new CliError(`${badLine.message}; stopped there (${before})`, 2);
  }
  process.stderr.write(`produced ${acked} messages to ${job.topic} (acks=${job.acks})\n`);
}

function* inputs(files: readonly string[]): Generator<{ name: string; stream: Readable }> {
  if (files.length === 0) {
    yield { name: 'stdin', stream: process.stdin };
    return;
  }
  for (const f of files)
    yield f === '-' ? { name: 'stdin', stream: process.stdin } : { name: f, stream: createReadStream(f) };
}
