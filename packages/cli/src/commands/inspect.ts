import { readFile, stat } from 'node:fs/promises';
import {
  type BatchHeader,
  type ChunkOutcome,
  codecName,
  type DecodedMessage,
  decodeBatchChunks,
  type ObjectStorage,
} from '@barge/core';
import type { Command } from 'commander';
import { CliError, parseNonNegativeInt } from '../fail.js';
import { latestBatchKey } from '../latest-object.js';
import { openConfiguredStorage } from '../storage.js';

interface InspectFlags {
  config?: string;
  data?: string;
  topic?: string;
  latest?: boolean;
  partition?: number;
  messages?: boolean;
  json?: boolean;
}

/** What to decode: a file or storage key named on the command line, or a topic's newest object. */
type InspectTarget =
  | { kind: 'path-or-key'; target: string }
  | { kind: 'latest'; topic: string; partition?: number };

export function inspectCommand(program: Command): void {
  program
    .command('inspect')
    .description(
      'decode a batch object (a file, a key in the configured storage, or the newest object of a topic): header, chunks, counts',
    )
    .argument('[file-or-key]', 'path of a batch object file, or its storage key')
    .option('--topic <name>', 'with --latest: inspect the newest batch object of this topic')
    .option('--latest', 'with --topic: pick the most recently stored batch object')
    .option('--partition <n>', 'with --topic: only this write partition', (v) =>
      parseNonNegativeInt(v, '--partition'),
    )
    .option('--config <file>', 'broker config naming the storage to read keys from')
    .option('--data <dir>', 'data directory of the embedded default (default ./barge-data)')
    .option('--messages', 'also print every message (key, headers, value)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  barge inspect --topic logs --latest --messages\n  barge inspect barge-data/objects/topics/logs/1/0000000000000000-1-0a1b2c3d4e5f',
    )
    .action(async (target: string | undefined, flags: InspectFlags) => {
      const { bytes, key } = await load(inspectTarget(target, flags), flags);
      // Each chunk on its own: a damaged chunk is listed, and the others are still shown.
      const { header, chunks } = decodeBatchChunks(bytes);
      const messages = chunks.flatMap((c) => (c.ok ? c.messages : []));
      const damaged = chunks.filter((c) => !c.ok);
      if (flags.json) {
        const out = {
          ...(key === undefined ? {} : { key }),
          header: { ...header, chunks: header.chunks.map((c) => ({ ...c, codec: codecName(c.codec) })) },
        } as Record<string, unknown>;
        if (damaged.length > 0)
          out.damaged = damaged.map((c) => ({ chunk: c.chunk.index, error: c.error.message }));
        if (flags.messages) out.messages = messages.map(messageJson);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        if (key !== undefined) process.stdout.write(`object ${key}\n`);
        process.stdout.write(describeHeader(header, chunks));
        if (flags.messages) for (const m of messages) process.stdout.write(`${describeMessage(m)}\n`);
      }
      if (damaged.length > 0) {
        throw new CliError(
          `${damaged.length} of ${header.chunkCount} chunks are damaged (their messages are not shown): ${damaged.map((c) => c.error.message).join('; ')}`,
        );
      }
    });
}

function inspectTarget(target: string | undefined, flags: InspectFlags): InspectTarget {
  if (flags.topic === undefined) {
    if (flags.latest || flags.partition !== undefined) {
      throw new CliError('--latest and --partition need --topic <name>', 2);
    }
    if (target === undefined) {
      throw new CliError('name a batch object file or key, or use --topic <name> --latest', 2);
    }
    return { kind: 'path-or-key', target };
  }
  if (target !== undefined) throw new CliError(`give either ${target} or --topic, not both`, 2);
  if (!flags.latest) throw new CliError('--topic needs --latest (inspect the newest batch object)', 2);
  return {
    kind: 'latest',
    topic: flags.topic,
    ...(flags.partition === undefined ? {} : { partition: flags.partition }),
  };
}

async function load(what: InspectTarget, flags: InspectFlags): Promise<{ bytes: Buffer; key?: string }> {
  if (what.kind === 'path-or-key' && (await isFile(what.target)))
    return { bytes: await readFile(what.target) };
  const storage = await openConfiguredStorage(flags.config, flags.data);
  try {
    const key =
      what.kind === 'latest' ? await latestBatchKey(storage, what.topic, what.partition) : what.target;
    return { bytes: await get(storage, key), key };
  } finally {
    await storage.close();
  }
}

async function get(storage: ObjectStorage, key: string): Promise<Buffer> {
  try {
    return await storage.get(key);
  } catch (e) {
    throw new CliError(
      `${key} is neither a file nor a key in ${storage.adapter} storage ${storage.location}: ${(e as Error).message}`,
    );
  }
}

const isFile = (path: string) =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  );

function describeHeader(h: BatchHeader, chunks: readonly ChunkOutcome[]): string {
  const damaged = chunks.filter((c) => !c.ok).length;
  const checked =
    damaged === 0 ? 'every chunk crc32 verified' : `${damaged} of ${h.chunkCount} chunks damaged`;
  const lines = [
    `batch format v${h.version}: topic ${h.topic}, write partition ${h.writePartition}, sequence ${h.sequence}, broker ${h.brokerId}`,
    `created ${new Date(h.createdAt).toISOString()}; messages ${h.messageCount} in ${h.chunkCount} chunks; timestamps ${iso(h.minTimestamp)} .. ${iso(h.maxTimestamp)}`,
    `object ${h.objectSize} bytes = header ${h.headerLength} + chunks ${h.payloadLength}; header crc32 ${hex(h.headerCrc)} (verified; ${checked})`,
    'chunk  offset      length      codec  messages  first  producer          baseSeq  crc32',
  ];
  for (const c of h.chunks) {
    lines.push(
      [
        String(c.index).padEnd(6),
        String(c.offset).padEnd(11),
        String(c.length).padEnd(11),
        codecName(c.codec).padEnd(6),
        String(c.messageCount).padEnd(9),
        String(c.firstMessageIndex).padEnd(6),
        String(c.producerId).padEnd(17),
        String(c.baseSequence).padEnd(8),
        hex(c.crc32),
        chunks[c.index]?.ok === false ? ' DAMAGED' : '',
      ]
        .join(' ')
        .trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

function describeMessage(m: DecodedMessage): string {
  const headers = m.headers.map((h) => `${h.name}=${JSON.stringify(h.value.toString('utf8'))}`).join(' ');
  return `#${m.index} ts=${iso(m.timestamp)} producer=${m.producerId} seq=${m.sequence} key=${m.key === null ? 'null' : JSON.stringify(m.key.toString('utf8'))}${headers ? ` ${headers}` : ''} value=${JSON.stringify(m.value.toString('utf8'))}`;
}

function messageJson(m: DecodedMessage) {
  return {
    index: m.index,
    timestamp: m.timestamp,
    producerId: m.producerId,
    sequence: m.sequence,
    key: m.key === null ? null : m.key.toString('base64'),
    headers: m.headers.map((h) => ({ name: h.name, value: h.value.toString('base64') })),
    value: m.value.toString('base64'),
  };
}

const iso = (ms: number) => (ms === 0 ? '-' : new Date(ms).toISOString());
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
