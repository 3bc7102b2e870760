import { CODEC, DEFAULT_MAX_UNCOMPRESSED_BYTES } from '../codecs.js';
import { CorruptDataError } from '../errors.js';
import type { ChunkMeta } from './chunk.js';
import { RecordWalker } from './record-walker.js';
import { type ChunkContentOptions, checkChunkContent } from './validate.js';

/**
 * `checkChunkContent` for a chunk received as several pieces (views of socket reads, never
 * joined on the produce path): uncompressed chunks are walked piece by piece, without a copy;
 * compressed ones are joined first (their decoders take one buffer, and decompressing costs far
 * more than the copy).
 */
export function checkChunkPartsContent(
  parts: readonly Buffer[],
  meta: ChunkMeta,
  where = 'chunk',
  options: ChunkContentOptions = {},
): Promise<void> | undefined {
  if (parts.length === 1) return checkChunkContent(parts[0]!, meta, where, options);
  if (meta.codec !== CODEC.none) return checkChunkContent(Buffer.concat(parts), meta, where, options);
  const max = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  if (meta.uncompressedLength > max) {
    throw new CorruptDataError(
      `${where}: uncompressed length ${meta.uncompressedLength} exceeds the limit of ${max} bytes`,
    );
  }
  const walker = new RecordWalker(meta, where);
  for (const p of parts) walker.push(p);
  walker.end();
  return undefined;
}
