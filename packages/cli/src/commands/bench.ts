import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { codecNames } from '@barge/core';
import type { Command } from 'commander';
import { type BenchFlags, type BenchKind, benchOptions, DEFAULT_ADMIN_PORT } from '../bench/options.js';
import { writeOutputs } from '../bench/outputs.js';
import { runBench } from '../bench/run.js';
import { CliError } from '../fail.js';

const HELP = `
Producers send --count messages (default 1,000,000) or for --duration seconds, as fast as their
window and buffer allow (or at --rate msgs/s), with the client's default settings unless flags
say otherwise. consume reads the topic from the beginning (by default) until --count messages or
--idle seconds without one. e2e runs both at once and records each message's end-to-end latency
(the send time travels in the value's first 8 bytes).

Broker figures (CPU s/GB, peak RSS, objects written, storage requests) come from the broker's
admin endpoint (--admin, default $BARGE_ADMIN or the --broker host on port ${DEFAULT_ADMIN_PORT});
without one they are n/a. Sizes take units: 100, 1KiB, 64KiB, 1MiB.

Examples:
  barge broker --admin 127.0.0.1:${DEFAULT_ADMIN_PORT} &
  barge bench produce --topic bench --size 1KiB --count 1000000 --json produce.json --svg produce.svg
  barge bench produce --topic bench --size 100 --duration 30 --rate 50000 --acks durable
  barge bench consume --topic bench --count 1000000 --json -
  barge bench e2e --topic bench-e2e --size 1KiB --count 200000 --rate 20000
`;

function define(parent: Command, kind: BenchKind, description: string): Command {
  const c = parent
    .command(kind)
    .description(description)
    .requiredOption('--topic <topic>', 'topic (produce, e2e: created if missing)')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--partitions <n>', 'write and read partitions of a topic it creates (default 4)')
    .option('--size <bytes>', 'value size, e.g. 100, 1KiB, 64KiB', '1024')
    .option('--key-size <bytes>', 'key size (0: no keys, messages spread over partitions)', '0')
    .option('--count <n>', 'messages to send or read (default 1000000; consume: until idle)')
    .option(
      '--admin <url>',
      `broker admin endpoint for /metrics (default http://<broker host>:${DEFAULT_ADMIN_PORT})`,
    )
    .option('--json <file>', 'write the JSON summary to FILE ("-": stdout, the table then goes to stderr)')
    .option('--svg <file>', 'write a chart of throughput and p99 latency over time')
    .option('--quiet', 'no progress line');
  if (kind !== 'consume') {
    c.option('--duration <seconds>', 'send for this long instead of --count')
      .option('--producers <n>', 'producer instances', '1')
      .option('--acks <level>', 'none, received or durable', 'durable')
      .option('--codec <codec>', `chunk codec: ${codecNames.join(', ')} (default: the topic's)`)
      .option('--linger-ms <ms>', "producer lingerMs (default: the client's, 5)")
      .option('--max-chunk-bytes <bytes>', "producer maxChunkBytes (default: the client's, 1MiB)")
      .option('--max-chunk-messages <n>', "producer maxChunkMessages (default: the client's)")
      .option('--max-in-flight <n>', "producer maxInFlight, fixed (default: the client's adaptive window)")
      .option(
        '--buffer-bytes <bytes>',
        'producer bufferBytes, also the sends kept unacknowledged (default 64MiB)',
      )
      .option('--send-messages <n>', 'messages per send() call (default: ~64 KiB of messages, at most 500)')
      .option(
        '--rate <msgs/s>',
        'target rate over all producers, open loop (default 0: as fast as possible)',
      );
  }
  if (kind !== 'produce') {
    c.option('--group <group>', 'consume as this group, committing (default: a new group, nothing committed)')
      .option('--no-from-beginning', 'consume: start at the end instead of the earliest message')
      .option('--idle <seconds>', 'stop after this long without a message', '10')
      .option('--direct', 'read batches straight from storage (the broker config: --config / --data)')
      .option('--config <file>', 'with --direct: the broker YAML config naming the storage')
      .option('--data <dir>', 'with --direct: the data directory of local storage (default ./barge-data)');
  }
  return c.addHelpText('after', HELP).action(async (flags: Partial<BenchFlags>) => {
    const o = benchOptions(kind, {
      producers: '1',
      acks: 'durable',
      fromBeginning: true,
      idle: '10',
      ...flags,
    } as BenchFlags);
    for (const [flag, file] of [
      ['--json', o.json],
      ['--svg', o.svg],
    ] as const) {
      if (file === undefined || file === '-') continue;
      await access(dirname(file), constants.W_OK).catch(() => {
        throw new CliError(`${flag} ${file}: its directory does not exist or is not writable`, 2);
      });
    }
    await writeOutputs(o, await runBench(o));
  });
}

export function benchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description('measure produce, consume and end-to-end throughput and latency against a broker');
  define(
    bench,
    'produce',
    'send messages as fast as possible (or at --rate); report msgs/s, MB/s, ack latency',
  );
  define(bench, 'consume', 'read a topic; report msgs/s and MB/s');
  define(bench, 'e2e', 'produce and consume at once; report throughput, ack and end-to-end latency');
}
