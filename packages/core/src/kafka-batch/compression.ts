import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { uncompressSync as lz4Block } from 'lz4-napi';
import { inspectLz4Frame, lz4CompressFrame } from '../codecs.js';
import { CorruptDataError, errorMessage } from '../errors.js';
import { CodecUnavailableError, ZSTD_MIN_NODE, zstdAvailable, zstdCompress } from '../zstd.js';
import { KAFKA_COMPRESSION, KAFKA_COMPRESSION_NAMES, type KafkaCompressionId } from './header.js';
import { snappyCompressXerial, snappyDecompressBounded } from './snappy.js';

/** The `kafka` chunk codec id (`CODEC.kafka`), named by `CodecUnavailableError`s from here. */
const KAFKA_CODEC_ID = 4;
const MAX_LENGTH = bufferConstants.MAX_LENGTH;

interface ZstdDecoder {
  zstdDecompressSync(
    data: Buffer,
    options: { maxOutputLength: number; params: Record<number, number> },
  ): Buffer;
}
const zstdWindowLogMax = (zlib.constants as unknown as Record<string, number | undefined>)
  .ZSTD_d_windowLogMax;

/**
 * Decompresses the records of one batch (`compression` from its attributes) into at most
 * `maxBytes` bytes. Kafka's codecs carry no trustworthy output size, so each decoder is capped
 * at `maxBytes` as it runs: gzip and zstd by zlib's `maxOutputLength`, lz4 block by block (each
 * block into what is left), snappy by each block's declared length, checked before decoding.
 * Every failure is a `CorruptDataError`, except zstd on a runtime without it
 * (`CodecUnavailableError`).
 */
export function decompressKafkaRecords(
  compression: KafkaCompressionId,
  data: Buffer,
  maxBytes: number,
  where: string,
): Buffer {
  const name = KAFKA_COMPRESSION_NAMES[compression];
  const undecodable = (e: unknown) =>
    new CorruptDataError(
      `${where}: ${name} records do not decompress (limit ${maxBytes} bytes): ${errorMessage(e)}`,
      { cause: e },
    );
  // zlib wants a limit of at least 1 byte and at most the largest Buffer; `within` is exact.
  const cap = Math.min(Math.max(1, maxBytes), MAX_LENGTH);
  const within = (out: Buffer) => {
    if (out.length > maxBytes) throw undecodable(new Error('output above the limit'));
    return out;
  };
  switch (compression) {
    case KAFKA_COMPRESSION.none:
      return data;
    case KAFKA_COMPRESSION.gzip: {
      let out: Buffer;
      try {
        out = zlib.gunzipSync(data, { maxOutputLength: cap });
      } catch (e) {
        throw undecodable(e);
      }
      return within(out);
    }
    case KAFKA_COMPRESSION.snappy:
      return snappyDecompressBounded(data, maxBytes, where);
    case KAFKA_COMPRESSION.lz4:
      return lz4FrameBounded(data, maxBytes, where);
    case KAFKA_COMPRESSION.zstd: {
      const z = requireKafkaZstd(where);
      // Kafka writers stream zstd without a content size; cap the window as zstd's default does.
      const windowLog = Math.min(27, Math.max(23, Math.ceil(Math.log2(Math.max(1, maxBytes)))));
      let out: Buffer;
      try {
        out = z.zstdDecompressSync(data, {
          maxOutputLength: cap,
          params: { [zstdWindowLogMax!]: windowLog },
        });
      } catch (e) {
        throw undecodable(e);
      }
      return within(out);
    }
  }
}

function requireKafkaZstd(where = 'record batch'): ZstdDecoder {
  if (!zstdAvailable()) {
    throw new CodecUnavailableError(
      KAFKA_CODEC_ID,
      `${where}: Kafka record batch is zstd-compressed but this Node.js ${process.version} has no zstd in zlib; use Node.js >= ${ZSTD_MIN_NODE}`,
    );
  }
  return zlib as unknown as ZstdDecoder;
}

const LZ4_WINDOW = 64 * 1024;

/**
 * An LZ4 frame (Kafka writes the standard frame format for magic 2) decoded block by block into
 * what is left of `maxBytes`; linked blocks get the previous 64 KiB as their dictionary.
 * Checksums are not verified: the batch's CRC-32C covers these bytes.
 */
function lz4FrameBounded(data: Buffer, maxBytes: number, where: string): Buffer {
  let info: ReturnType<typeof inspectLz4Frame>;
  try {
    info = inspectLz4Frame(data);
  } catch (e) {
    if (e instanceof CorruptDataError)
      e.message = `${where}: ${e.message.replace('lz4 chunk', 'lz4 records')}`;
    throw e;
  }
  const outs: Buffer[] = [];
  let total = 0;
  let window: Buffer | undefined;
  for (let i = 0; i < info.blocks.length; i++) {
    const b = info.blocks[i]!;
    const room = Math.min(info.blockMaxSize, maxBytes - total);
    let out: Buffer;
    if (b.stored) {
      if (b.size > room) throw lz4TooLarge(where, maxBytes);
      out = data.subarray(b.start, b.start + b.size);
    } else {
      if (room <= 0) throw lz4TooLarge(where, maxBytes);
      const input = Buffer.allocUnsafe(4 + b.size);
      input.writeUInt32LE(room, 0);
      data.copy(input, 4, b.start, b.start + b.size);
      try {
        out = lz4Block(input, info.independent ? undefined : window);
      } catch (e) {
        throw new CorruptDataError(
          `${where}: lz4 block ${i} does not decompress into the ${room} bytes left under the limit: ${errorMessage(e)}`,
          { cause: e },
        );
      }
    }
    outs.push(out);
    total += out.length;
    if (!info.independent) window = lastBytes(window, out);
  }
  if (info.contentSize !== undefined && info.contentSize !== total) {
    throw new CorruptDataError(`${where}: lz4 frame declares ${info.contentSize} bytes but holds ${total}`);
  }
  return outs.length === 1 ? outs[0]! : Buffer.concat(outs, total);
}

function lz4TooLarge(where: string, maxBytes: number): CorruptDataError {
  return new CorruptDataError(`${where}: lz4 records decompress to more than the limit of ${maxBytes} bytes`);
}

function lastBytes(a: Buffer | undefined, b: Buffer): Buffer {
  if (b.length >= LZ4_WINDOW || a === undefined)
    return Buffer.from(b.subarray(Math.max(0, b.length - LZ4_WINDOW)));
  const keep = Math.min(a.length, LZ4_WINDOW - b.length);
  return Buffer.concat([a.subarray(a.length - keep), b]);
}

/**
 * Compresses a batch's records as Kafka clients do: gzip, xerial-framed snappy, an LZ4 frame
 * (independent blocks, no checksums), one zstd frame. zstd needs a runtime that has it.
 */
export function compressKafkaRecords(compression: KafkaCompressionId, data: Buffer): Buffer {
  switch (compression) {
    case KAFKA_COMPRESSION.none:
      return data;
    case KAFKA_COMPRESSION.gzip:
      return zlib.gzipSync(data);
    case KAFKA_COMPRESSION.snappy:
      return snappyCompressXerial(data);
    case KAFKA_COMPRESSION.lz4:
      return lz4CompressFrame(data);
    case KAFKA_COMPRESSION.zstd:
      requireKafkaZstd();
      return zstdCompress(data);
  }
}
