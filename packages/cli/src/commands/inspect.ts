import { readFile, stat } from 'node:fs/promises';
import { type BatchHeader, codecName, type DecodedMessage, decodeBatch } from '@barge/core';
import type { Command } from 'commander';
import { CliError } from '../fail.js';
import { openConfiguredStorage } from '../storage.js';

interface InspectFlags {
  config?: string;
  data?: string;
  messages?: boolean;
  json?: boolean;
}

export function inspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('decode a batch object (a file, or a key in the configured storage): header, chunks, counts')
    .argument('<file-or-key>', 'path of a batch object file, or its storage key')
    .option('--config <file>', 'broker config naming the storage to read keys from')
    .option('--data <dir>', 'data directory of the embedded default (default ./barge-data)')
    .option('--messages', 'also print every message (key, headers, value)')
    .option('--json', 'print JSON')
    .action(async (target: string, flags: InspectFlags) => {
      const bytes = await load(target, flags);
      const { header, messages } = decodeBatch(bytes);
      if (flags.json) {
        const out = {
          header: { ...header, chunks: header.chunks.map((c) => ({ ...c, codec: codecName(c.codec) })) },
        } as Record<string, unknown>;
        if (flags.messages) out.messages = messages.map(messageJson);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(describeHeader(header));
      if (flags.messages) for (const m of messages) process.stdout.write(`${describeMessage(m)}\n`);
    });
}

async function load(target: string, flags: InspectFlags): Promise<Buffer> {
  const isFile = await stat(target).then(
    (s) => s.isFile(),
    () => false,
  );
  if (isFile) return readFile(target);
  const storage = await openConfiguredStorage(flags.config, flags.data);
  try {
    return await storage.get(target);
  } catch (e) {
    throw new CliError(
      `${target} is neither a file nor a key in ${storage.adapter} storage ${storage.location}: ${(e as Error).message}`,
    );
  } finally {
    await storage.close();
  }
}

function describeHeader(h: BatchHeader): string {
  const lines = [
    `batch format v${h.version}: topic ${h.topic}, write partition ${h.writePartition}, sequence ${h.sequence}, broker ${h.brokerId}`,
    `created ${new Date(h.createdAt).toISOString()}; messages ${h.messageCount} in ${h.chunkCount} chunks; timestamps ${iso(h.minTimestamp)} .. ${iso(h.maxTimestamp)}`,
    `object ${h.objectSize} bytes = header ${h.headerLength} + chunks ${h.payloadLength}; header crc32 ${hex(h.headerCrc)} (verified; every chunk crc32 verified)`,
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
      ].join(' '),
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
