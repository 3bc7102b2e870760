import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  BrokerPool,
  type ConsumedMessage,
  Consumer,
  type PointerSource,
  RemotePointerSource,
} from '@barge/client';
import { ApiKey } from '@barge/core';
import { type Command, Option } from 'commander';
import { CatchUp } from '../catch-up.js';
import { brokerAddress, withConnection } from '../connect.js';
import { type StartPolicy, startOffset, startPolicy, type Watermarks } from '../consume-start.js';
import { consumeFailure, type OnDamaged, skippedLine } from '../damaged.js';
import { CliError, parseNonNegativeInt, parsePositiveInt } from '../fail.js';
import { messageToJson } from '../message-json.js';
import { valueLine } from '../message-text.js';
import { LineOutput } from '../output.js';
import { PartitionFilter } from '../partition-filter.js';
import { brokerSasl, brokerSaslCredentials } from '../sasl-flags.js';
import { firstShutdownSignal } from '../shutdown.js';
import { TailWatch } from '../tail-watch.js';
import { brokerTls } from '../tls-flags.js';

interface ConsumeFlags {
  topic: string;
  broker?: string;
  group?: string;
  partition?: string;
  offset?: string;
  fromBeginning?: boolean;
  fromTime?: string;
  format: 'value' | 'json';
  keySeparator?: string;
  maxMessages?: string;
  exitAtEnd?: boolean;
  output?: string;
  onDamaged: OnDamaged;
}

/** Why consuming ended. */
type Outcome =
  | { kind: 'max-messages' | 'caught-up' | 'signal' | 'output-closed' }
  | { kind: 'crash'; error: unknown };

/** How often `--exit-at-end` looks whether every partition was read up to its end. */
const CATCH_UP_CHECK_MS = 50;

const HELP = `
Without --group, consume reads on its own: every read partition (or only --partition), from
--offset (default: latest, i.e. only new messages), and commits nothing. With --group it is a
member of that consumer group: the group's members share the read partitions, each starts at its
group's committed position (--from-beginning / --from-time only apply where nothing is committed),
and what was printed is committed at least every second and at exit. --partition and --offset
cannot be combined with --group: to move a group, use \`barge groups reset-offsets\`.

Offsets are pointer offsets of a read partition: each names one batch; --format json prints them
with the message index within the batch.

Data that cannot be read (a damaged chunk or batch, a missing object) stops consume with the
topic, partition, offset and object, and the command that moves past it (with --group: barge
groups reset-offsets ... --to-offset N+1 --execute). With --on-damaged skip it is skipped, one
"barge: skipped ..." line on stderr each, and the rest (other chunks of the batch too) is printed.

Examples:
  barge consume --topic logs                                   # follow new messages
  barge consume --topic logs --offset earliest --exit-at-end   # everything stored, then exit
  barge consume --topic logs --partition 1 --offset 42 --format json
  barge consume --topic logs --group readers --max-messages 100
  barge consume --topic logs -K ': ' --from-beginning          # KEY: VALUE lines
  barge consume --topic logs --group readers --on-damaged skip  # past damaged data, reported
`;

export function consumeCommand(program: Command): void {
  program
    .command('consume')
    .description(
      'print the messages of a topic, one per line, as they arrive (until Ctrl-C, --max-messages or --exit-at-end)',
    )
    .requiredOption('--topic <topic>', 'topic to consume')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--group <group>', 'consume as a member of this consumer group, committing what was printed')
    .addOption(
      new Option('--partition <n>', 'read only this read partition (without --group)').conflicts('group'),
    )
    .addOption(
      new Option(
        '--offset <where>',
        'where to start (without --group): a pointer offset (needs --partition), earliest, or latest (default)',
      ).conflicts(['group', 'fromBeginning', 'fromTime']),
    )
    .option('--from-beginning', 'start at the earliest message (with --group: where nothing is committed)')
    .addOption(
      new Option(
        '--from-time <iso>',
        'start at the first message at or after this time, ISO 8601 (with --group: where nothing is committed)',
      ).conflicts('fromBeginning'),
    )
    .addOption(
      new Option(
        '--format <format>',
        'value: the value bytes exactly, newline-terminated; json: one object per line with topic, partition (read), offset, messageIndex, writePartition, timestamp, key, headers, value (base64 with "encoding":"base64" when not UTF-8)',
      )
        .choices(['value', 'json'])
        .default('value'),
    )
    .option('-K, --key-separator <sep>', 'with --format value: print KEY SEP VALUE (no key: empty)')
    .option('--max-messages <n>', 'exit after N messages (with --group: having committed exactly those)')
    .option('--exit-at-end', 'exit once every partition it reads is read up to its end as of the start')
    .option('--output <file>', 'write to FILE instead of stdout')
    .addOption(
      new Option(
        '--on-damaged <policy>',
        'data that cannot be read (damaged chunk or batch, missing object): fail stops with where it is; skip reports it on stderr and goes on',
      )
        .choices(['fail', 'skip'])
        .default('fail'),
    )
    .addHelpText('after', HELP)
    .action(consume);
}

async function consume(flags: ConsumeFlags): Promise<void> {
  if (flags.format === 'json' && flags.keySeparator !== undefined) {
    throw new CliError('--key-separator is for --format value; JSON lines carry the key', 2);
  }
  const policy = startPolicy(flags);
  const partition =
    flags.partition === undefined ? undefined : parseNonNegativeInt(flags.partition, '--partition');
  if (policy.kind === 'offset' && partition === undefined) {
    throw new CliError('--offset <n> needs --partition (offsets are per read partition)', 2);
  }
  const max =
    flags.maxMessages === undefined ? undefined : parsePositiveInt(flags.maxMessages, '--max-messages');
  const grouped = flags.group !== undefined;
  const address = brokerAddress(flags.broker);
  // Where reading starts: always on its own; for a group member only where nothing is committed.
  const needStarts = !grouped || flags.exitAtEnd === true;
  const { watermarks, starts, transactional } = await lookUp(
    address,
    flags.topic,
    partition,
    needStarts ? policy : undefined,
    flags.exitAtEnd === true,
  );
  const catchUp = flags.exitAtEnd
    ? new CatchUp(new Map(watermarks.map((w) => [w.partition, w.high])))
    : undefined;
  if (!grouped) for (const [p, offset] of starts) catchUp?.startsAt(p, offset);

  // --exit-at-end on a cluster's topic watches the pointer fetches: the high watermark counts
  // Kafka's transaction markers, so it may be above the last pointer.
  const watchTail = catchUp !== undefined && transactional;
  const pool =
    partition === undefined && !watchTail
      ? undefined
      : new BrokerPool([address], { clientId: 'barge-cli', tls: brokerTls(), sasl: brokerSaslCredentials() });
  const remote: PointerSource | undefined = pool && new RemotePointerSource(pool);
  const chosen =
    remote && partition !== undefined ? new PartitionFilter(remote, new Set([partition])) : remote;
  const tail = watchTail && chosen ? new TailWatch(chosen) : undefined;
  const pointers = tail ?? chosen;
  const consumer = new Consumer({
    brokers: [address],
    // Without --group: a group of its own, where nothing is committed.
    groupId: flags.group ?? `barge-cli-${randomUUID().slice(0, 8)}`,
    clientId: 'barge-cli',
    tls: brokerTls(),
    sasl: brokerSasl(),
    // From a time: from the earliest pointers, so the consumer can start at the time (`fromTime`).
    fromBeginning: policy.kind === 'earliest' || policy.kind === 'time',
    ...(policy.kind === 'time' ? { fromTime: policy.timestamp } : {}),
    autoCommit: grouped,
    autoCommitIntervalMs: 1000,
    onDamagedData: flags.onDamaged,
    ...(pointers ? { pointers } : {}),
  });
  let skipped = 0;
  consumer.on('consumer.skipped', ({ payload }) => {
    skipped++;
    process.stderr.write(skippedLine(payload));
  });
  const output = new LineOutput(flags.output ? createWriteStream(flags.output) : process.stdout);
  const separator = flags.keySeparator === undefined ? undefined : Buffer.from(flags.keySeparator);
  const format = (m: ConsumedMessage) =>
    flags.format === 'json' ? Buffer.from(`${messageToJson(m)}\n`) : valueLine(m, separator);

  let outcome: Outcome | undefined;
  let running = false;
  let stopping: Promise<void> | undefined;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  // Once running, stop at once: `disconnect` lets the message being printed finish, then commits.
  const finish = (why: Outcome) => {
    outcome ??= why;
    if (running) stopping ??= consumer.disconnect();
    finished();
  };
  void firstShutdownSignal().then(() => finish({ kind: 'signal' }));
  consumer.on('crash', (error) => finish({ kind: 'crash', error }));

  const positioned = new Set<number>();
  consumer.on('rebalance', (topic, assigned) => {
    catchUp?.assigned(assigned);
    if (!grouped) {
      // On its own: start each partition where the policy says (the first time it is assigned).
      for (const p of assigned) {
        const offset = starts.get(p);
        if (offset === undefined || policy.kind === 'time' || positioned.has(p)) continue;
        positioned.add(p);
        void consumer.seek({ topic, partition: p, offset });
      }
    } else if (catchUp) {
      consumer.committed(topic, assigned).then(
        (committed) => {
          for (const [i, c] of committed.entries()) {
            const p = assigned[i]!;
            const start = c?.offset ?? starts.get(p);
            if (start !== undefined) catchUp.startsAt(p, start);
          }
        },
        (error: unknown) => finish({ kind: 'crash', error }),
      );
    }
  });

  let count = 0;
  let checker: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: flags.topic });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!(await output.write(format(message)))) {
          finish({ kind: 'output-closed' }); // not resolved: not committed
          return;
        }
        consumer.resolveOffset(message);
        count++;
        if (max !== undefined && count >= max) finish({ kind: 'max-messages' });
      },
    });
    running = true;
    if (outcome) stopping ??= consumer.disconnect();
    if (catchUp) {
      const check = () => {
        const position = (p: number) => consumer.position(flags.topic, p)?.offset;
        if (catchUp.reached(position, (p) => tail?.tail(p))) finish({ kind: 'caught-up' });
      };
      checker = setInterval(check, CATCH_UP_CHECK_MS);
      check();
    }
    await done;
  } finally {
    clearInterval(checker);
    await (stopping ?? consumer.disconnect()).catch(() => {});
    await pool?.close();
    await output.end();
  }
  if (outcome?.kind === 'crash') throw consumeFailure(outcome.error, flags.topic, flags.group);
  const skips = skipped === 0 ? '' : `; skipped ${skipped} unreadable chunks or batches (listed above)`;
  process.stderr.write(`consumed ${count} messages from ${flags.topic}${skips}\n`);
}

/**
 * The watermarks of the partitions to read (this also fails fast, in one line, when the broker is
 * unreachable or the topic unknown), given a policy, where reading starts in each, and, when
 * `askCluster`, whether the broker is in a cluster, whose brokers publish pointers in Kafka
 * transactions.
 */
async function lookUp(
  address: string,
  topic: string,
  partition: number | undefined,
  policy: StartPolicy | undefined,
  askCluster: boolean,
): Promise<{ watermarks: Watermarks[]; starts: Map<number, number>; transactional: boolean }> {
  return withConnection(address, async (c) => {
    const described = await c.request(ApiKey.DescribeTopic, { name: topic });
    const watermarks: Watermarks[] = described.partitions.filter(
      (w) => partition === undefined || w.partition === partition,
    );
    if (watermarks.length === 0) {
      throw new CliError(
        `--partition ${partition}: topic ${topic} has read partitions 0..${described.topic.readPartitions - 1}`,
        2,
      );
    }
    const atTime = async (p: number, timestamp: number) =>
      (await c.request(ApiKey.OffsetForTimestamp, { topic, partition: p, timestamp })).offset;
    const starts = new Map<number, number>();
    if (policy) for (const w of watermarks) starts.set(w.partition, await startOffset(policy, w, atTime));
    if (!askCluster) return { watermarks, starts, transactional: false };
    const metadata = await c.request(ApiKey.Metadata, { topics: [] });
    return { watermarks, starts, transactional: (metadata.cluster?.clusterId ?? '') !== '' };
  });
}
