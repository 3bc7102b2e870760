/**
 * Codec micro-benchmark: chunk encode (records + compression + CRC-32) and decode (CRC-32 +
 * decompression + record parsing) on one core, per codec and message size; plus the broker's
 * header assembly. Results go into docs/benchmarks.md ("Codec").
 *
 *   npm run bench                              # builds, then runs this file
 *   BENCH_SECONDS=0.5 BENCH_RUNS=9 node test/dist/bench/codec-bench.js
 *
 * Each figure is the median of BENCH_RUNS timed runs (default 7) after BENCH_WARMUP (default 3)
 * untimed runs; a run repeats the operation for at least BENCH_SECONDS (default 0.3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchBuilder,
  type BatchHeader,
  type ChunkMeta,
  type CodecName,
  decodeBatchHeader,
  decodeChunk,
  type EncodedChunk,
  encodeBatchHeader,
  encodeChunk,
  encodeChunkAsync,
  type Message,
  zstdAvailable,
} from '@barge/core';
import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from 'lz4-napi';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.3);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
/** Messages per chunk are chosen so that one chunk (one produce request) is about this big. */
const CHUNK_BYTES = 1024 * 1024;
const KEY_BYTES = 16;

/** Deterministic PRNG (mulberry32) so every run benchmarks the same bytes. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'GET',
  'POST',
  'user',
  'order',
  'status',
  'ok',
  'error',
  'timeout',
  'region',
  'us-east-1',
  'eu-west-1',
  'latency_ms',
  'bytes',
  'session',
  'checkout',
  'cart',
  'item',
  'price',
  'currency',
  'EUR',
];

/** JSON-ish log lines with random ids and numbers: compressible like real event payloads. */
function payload(size: number, next: () => number): Buffer {
  let s = '';
  while (s.length < size) {
    const w = () => WORDS[Math.floor(next() * WORDS.length)];
    s += `{"ts":${1700000000000 + Math.floor(next() * 1e9)},"id":"${Math.floor(next() * 2 ** 52).toString(36)}","${w()}":"${w()}","${w()}":${Math.floor(next() * 100000)},"msg":"${w()} ${w()} ${w()}"}\n`;
  }
  return Buffer.from(s.slice(0, size));
}

function messagesFor(size: number, count: number, seed: number): Message[] {
  const next = rng(seed);
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      key: Buffer.from(
        Math.floor(next() * 2 ** 52)
          .toString(16)
          .padStart(KEY_BYTES, '0')
          .slice(0, KEY_BYTES),
      ),
      value: payload(size, next),
      timestamp: 1700000000000 + i,
    });
  }
  return out;
}

interface Rate {
  /** Operations per second of CPU time used by this process (robust on a shared machine). */
  opsPerSec: number;
  /** Operations per second of wall-clock time. */
  opsPerWallSec: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Median rate of RUNS runs, each at least SECONDS of wall time, after WARMUP runs. The rate is
 * taken per CPU second of this process (user + system, all its threads) and per wall second.
 */
function measure(op: () => unknown): Rate {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    let n = 0;
    const c0 = cpuSeconds();
    const start = process.hrtime.bigint();
    const limit = start + BigInt(Math.round(SECONDS * 1e9));
    let now = start;
    do {
      op();
      n++;
      now = process.hrtime.bigint();
    } while (now < limit);
    const c = cpuSeconds() - c0;
    if (r >= WARMUP) {
      cpu.push(n / Math.max(c, 1e-6));
      wall.push(n / (Number(now - start) / 1e9));
    }
  }
  return { opsPerSec: median(cpu), opsPerWallSec: median(wall) };
}

async function measureAsync(op: () => Promise<unknown>): Promise<Rate> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    let n = 0;
    const c0 = cpuSeconds();
    const start = process.hrtime.bigint();
    const limit = start + BigInt(Math.round(SECONDS * 1e9));
    let now = start;
    do {
      await op();
      n++;
      now = process.hrtime.bigint();
    } while (now < limit);
    const c = cpuSeconds() - c0;
    if (r >= WARMUP) {
      cpu.push(n / Math.max(c, 1e-6));
      wall.push(n / (Number(now - start) / 1e9));
    }
  }
  return { opsPerSec: median(cpu), opsPerWallSec: median(wall) };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const mbps = (bytesPerSec: number) => fmt(bytesPerSec / 1e6);

function headerFor(chunk: EncodedChunk): BatchHeader {
  const b = new BatchBuilder({ topic: 'bench', writePartition: 0, sequence: 0, brokerId: 1 });
  b.add(chunk.bytes, chunk.meta);
  return decodeBatchHeader(b.build(1700000000000).header);
}

interface Row {
  codec: string;
  size: string;
  messages: number;
  ratio: number;
  encMBps: number;
  encMps: number;
  decMBps: number;
  decMps: number;
  encWallMBps: number;
  decWallMBps: number;
  encAsyncMBps: number | undefined;
}

const SIZES: [string, number][] = [
  ['100 B', 100],
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
];

const CODECS: { label: string; codec: CodecName; gzipLevel?: number; zstdLevel?: number }[] = [
  { label: 'none', codec: 'none' },
  { label: 'lz4', codec: 'lz4' },
  { label: 'gzip (level 1)', codec: 'gzip', gzipLevel: 1 },
  { label: 'gzip (level 6, default)', codec: 'gzip' },
  // zstd only where the runtime's zlib has it (Node.js >= 22.15).
  ...(zstdAvailable()
    ? [
        { label: 'zstd (level 1, default)', codec: 'zstd' as const },
        { label: 'zstd (level 3)', codec: 'zstd' as const, zstdLevel: 3 },
      ]
    : []),
];

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(
    `# codec bench: node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores`,
  );
  console.log(
    `# ${new Date().toISOString()}, load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`# ${RUNS} runs of >= ${SECONDS}s after ${WARMUP} warmup runs, median; one chunk ~ 1 MiB`);
  console.log('# MB/s and msgs/s are per CPU second of this process; "wall" columns per elapsed second.');
  console.log(`# MB = 10^6 bytes of message keys + values (${KEY_BYTES}-byte keys, no headers)`);
  if (!zstdAvailable()) console.log(`# zstd rows skipped: Node.js ${process.version} has no zstd in zlib`);
  console.log('');
  const rows: Row[] = [];
  for (const [sizeLabel, size] of SIZES) {
    const count = Math.max(1, Math.round(CHUNK_BYTES / (size + KEY_BYTES)));
    const messages = messagesFor(size, count, size);
    const bytes = count * (size + KEY_BYTES);
    for (const c of CODECS) {
      if (only && !c.label.startsWith(only)) continue;
      const opts = { producerId: 1, baseSequence: 0, gzipLevel: c.gzipLevel, zstdLevel: c.zstdLevel };
      const chunk = encodeChunk(messages, c.codec, opts);
      const header = headerFor(chunk);
      const enc = measure(() => encodeChunk(messages, c.codec, opts));
      const encAsync =
        c.codec === 'none' ? undefined : await measureAsync(() => encodeChunkAsync(messages, c.codec, opts));
      const dec = measure(() => decodeChunk(header, 0, chunk.bytes));
      const row: Row = {
        codec: c.label,
        size: sizeLabel,
        messages: count,
        ratio: chunk.meta.uncompressedLength / chunk.meta.length,
        encMBps: (enc.opsPerSec * bytes) / 1e6,
        encMps: enc.opsPerSec * count,
        decMBps: (dec.opsPerSec * bytes) / 1e6,
        decMps: dec.opsPerSec * count,
        encWallMBps: (enc.opsPerWallSec * bytes) / 1e6,
        encAsyncMBps: encAsync ? (encAsync.opsPerSec * bytes) / 1e6 : undefined,
        decWallMBps: (dec.opsPerWallSec * bytes) / 1e6,
      };
      rows.push(row);
      console.error(`${row.codec} ${row.size}: enc ${fmt(row.encMBps)} MB/s, dec ${fmt(row.decMBps)} MB/s`);
    }
  }
  console.log(
    '| codec | message size | msgs/chunk | ratio | encode MB/s | encode msgs/s | decode MB/s | decode msgs/s | encodeChunkAsync MB/s | wall: encode / decode MB/s |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const asyncCol = r.encAsyncMBps === undefined ? '-' : fmt(r.encAsyncMBps);
    console.log(
      `| ${r.codec} | ${r.size} | ${fmt(r.messages)} | ${r.ratio.toFixed(2)} | ${fmt(r.encMBps)} | ${fmt(r.encMps)} | ${fmt(r.decMBps)} | ${fmt(r.decMps)} | ${asyncCol} | ${fmt(r.encWallMBps)} / ${fmt(r.decWallMBps)} |`,
    );
  }

  // lz4-napi: synchronous vs asynchronous (thread pool) frame calls, one at a time.
  const sample = encodeChunk(messagesFor(1024, 1000, 7), 'none').bytes;
  const frame = compressFrameSync(sample);
  const lz4Rows: [string, Rate][] = [
    ['compressFrameSync', measure(() => compressFrameSync(sample))],
    ['compressFrame (await)', await measureAsync(() => compressFrame(sample))],
    ['decompressFrameSync', measure(() => decompressFrameSync(frame))],
    ['decompressFrame (await)', await measureAsync(() => decompressFrame(frame))],
  ];
  console.log(
    `\nlz4-napi on one ${fmt(sample.length / 1024)} KiB chunk (1 KiB messages), sequential calls:\n`,
  );
  console.log('| call | MB/s per CPU second (all threads) | MB/s wall |');
  console.log('| --- | ---: | ---: |');
  for (const [name, r] of lz4Rows) {
    console.log(
      `| ${name} | ${mbps(r.opsPerSec * sample.length)} | ${mbps(r.opsPerWallSec * sample.length)} |`,
    );
  }

  // Broker assembly: header for N chunks from metadata only; chunk bytes are never read.
  const meta: ChunkMeta = encodeChunk(messagesFor(100, 10, 3), 'none', { producerId: 9 }).meta;
  console.log('\nBroker assembly (encodeBatchHeader from chunk metadata):\n');
  console.log('| chunks | header bytes | µs per header |');
  console.log('| ---: | ---: | ---: |');
  for (const n of [1, 10, 100, 1000]) {
    const chunks = Array.from({ length: n }, () => meta);
    const info = {
      topic: 'bench',
      writePartition: 0,
      sequence: 1,
      brokerId: 1,
      createdAt: 1700000000000,
      chunks,
    };
    const r = measure(() => encodeBatchHeader(info));
    console.log(`| ${n} | ${fmt(encodeBatchHeader(info).length)} | ${(1e6 / r.opsPerSec).toFixed(2)} |`);
  }

  zstdReference(sample);
  console.log(
    `\n# load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

/**
 * When the zstd and lz4 command-line tools are installed, their own benchmark mode on the same
 * 1 MiB chunk gives a native reference for ratio and speed (on any Node.js version).
 */
function zstdReference(sample: Buffer): void {
  const dir = mkdtempSync(join(tmpdir(), 'barge-bench-'));
  try {
    const file = join(dir, 'chunk.bin');
    writeFileSync(file, sample);
    const lines: string[] = [];
    for (const [tool, args] of [
      ['zstd', ['-b1', '-e3', '-i2', '-q', file]],
      ['lz4', ['-b1', '-i2', '-q', file]],
    ] as const) {
      const r = spawnSync(tool, args, { encoding: 'utf8' });
      if (r.error || r.status !== 0) {
        lines.push(`${tool}: not available (${r.error?.message ?? r.stderr.trim()})`);
        continue;
      }
      for (const l of `${r.stdout}\n${r.stderr}`.split(/[\r\n]+/)) {
        const m = /^-(\d+)\s+\d+\s+\(([\d.]+)\)\s+([\d.]+) MB\/s\s+([\d.]+) MB\/s/.exec(l);
        if (m) lines.push(`${tool} -${m[1]}: ratio ${m[2]}, compress ${m[3]} MB/s, decompress ${m[4]} MB/s`);
      }
    }
    console.log('\nNative CLI reference on the same chunk (`zstd -b1 -e3`, `lz4 -b1`):\n');
    for (const l of lines) console.log(`- ${l}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
