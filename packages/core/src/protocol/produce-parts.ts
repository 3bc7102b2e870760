import type { ChunkMeta } from '../batch/chunk.js';
import { type AckLevel, ApiKey, apiName, type ProduceRequest } from './api.js';
import { PartsReader } from './parts-reader.js';
import { ProtocolError } from './wire.js';

/**
 * A produced chunk as the broker receives it: its bytes as views of the socket's reads, in
 * order (one view when the chunk arrived in one read), never joined. `meta.length` is their total.
 */
export interface ReceivedChunk {
  readonly parts: readonly Buffer[];
  readonly meta: ChunkMeta;
}

/** A Produce request (v1 and v2 requests are the same) as the broker decodes it: chunks as parts. */
export interface ReceivedProduceRequest extends Omit<ProduceRequest, 'chunks'> {
  chunks: ReceivedChunk[];
}

const ACK_LEVEL_OF_BYTE: readonly AckLevel[] = ['none', 'received', 'durable'];
/** codec, messageCount, uncompressedLength, crc32, baseSequence, min/maxTimestamp, data length. */
const CHUNK_FIXED_BYTES = 1 + 4 + 4 + 4 + 8 + 8 + 8 + 4;

/**
 * A view keeps its whole underlying buffer (a socket read, up to 64 KiB) alive. A chunk piece
 * using less than this share of it is copied out, so what the broker holds stays within twice
 * the chunk bytes its budget counts, even for tiny chunks sent one per read.
 */
const MIN_VIEW_SHARE = 0.5;

/**
 * Decodes a Produce request body given as parts (the bytes after the request header,
 * `FrameDecoder.nextParts()`), with the checks and errors of `decodeRequestBody`. Chunk data
 * stays as views of the parts: the payload is never copied, except pieces small against the
 * buffer they sit in (see `MIN_VIEW_SHARE`). Throws `ProtocolError`.
 */
export function decodeProduceRequestParts(
  apiVersion: number,
  body: readonly Buffer[],
): ReceivedProduceRequest {
  const r = new PartsReader(body);
  const topic = r.str16('topic');
  const writePartition = r.u32('writePartition');
  const ackByte = r.u8('acks');
  const acks = ACK_LEVEL_OF_BYTE[ackByte];
  if (acks === undefined) throw new ProtocolError(`acks must be 0, 1 or 2, got ${ackByte}`);
  const producerId = r.u64('producerId');
  const timeoutMs = r.u32('timeoutMs');
  const n = r.count('chunks', CHUNK_FIXED_BYTES);
  const chunks: ReceivedChunk[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const codec = r.u8('codec');
    const messageCount = r.u32('messageCount');
    const uncompressedLength = r.u32('uncompressedLength');
    const crc32 = r.u32('crc32');
    const baseSequence = r.u64('baseSequence');
    const minTimestamp = r.i64('minTimestamp');
    const maxTimestamp = r.i64('maxTimestamp');
    const start = r.pos;
    const parts = r.bytes32('data');
    const length = r.pos - start - 4;
    for (let j = 0; j < parts.length; j++) parts[j] = keepable(parts[j]!);
    chunks[i] = {
      parts,
      meta: {
        codec,
        length,
        messageCount,
        uncompressedLength,
        crc32,
        producerId,
        baseSequence,
        minTimestamp,
        maxTimestamp,
      },
    };
  }
  if (r.remaining !== 0) r.done(`${apiName(ApiKey.Produce)} v${apiVersion} request`);
  return { topic, writePartition, acks, producerId, timeoutMs, chunks };
}

/**
 * `view` itself when it uses enough of its buffer to be kept; otherwise a copy in a buffer of
 * its own (not from Buffer's shared pool, where a small copy could pin a whole pool slab).
 */
export function keepable(view: Buffer): Buffer {
  if (view.length >= view.buffer.byteLength * MIN_VIEW_SHARE) return view;
  const copy = Buffer.allocUnsafeSlow(view.length);
  view.copy(copy);
  return copy;
}
