import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mapLimit, PermanentError, type PutOptions, sliceParts, TransientError } from '@barge/core';
import { conditionFields } from './conditions.js';
import type { S3StorageConfig } from './config.js';
import { sseFields } from './encryption.js';
import { isAbortError, mapS3Error } from './errors.js';
import { crc32Base64, VectoredBody } from './util.js';

const MAX_PARTS = 10_000;

/**
 * Uploads `parts` (`size` bytes in all) to `Key` as a multipart upload whose parts are views into
 * the caller's buffers, `partConcurrency` at a time. A failed upload is aborted so no parts are
 * left behind. Returns the ETag S3 gave the object and the number of parts.
 */
export async function putMultipart(
  client: S3Client,
  config: S3StorageConfig,
  Key: string,
  parts: readonly Buffer[],
  size: number,
  options: PutOptions,
): Promise<{ etag: string | undefined; parts: number }> {
  const { bucket: Bucket, checksums } = config;
  const partSize = Math.max(config.partSize, Math.ceil(size / MAX_PARTS));
  const count = Math.ceil(size / partSize);
  let uploadId: string | undefined;
  // Cancels the other in-flight parts when one fails or the caller aborts.
  const failFast = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failFast.signal]) : failFast.signal;
  let firstFailure: unknown;
  try {
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket,
        Key,
        ContentType: options.contentType ?? 'application/octet-stream',
        ...sseFields(config),
        ...(checksums ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
      }),
      { abortSignal: signal },
    );
    uploadId = created.UploadId;
    if (!uploadId)
      throw new PermanentError(`s3 put s3://${Bucket}/${Key}: CreateMultipartUpload returned no UploadId`);
    const id = uploadId;
    const numbers = Array.from({ length: count }, (_, i) => i);
    const done = await mapLimit(numbers, config.partConcurrency, async (i) => {
      const slices = sliceParts(parts, i * partSize, Math.min(size, (i + 1) * partSize));
      const length = slices.reduce((n, s) => n + s.length, 0);
      const crc = checksums ? crc32Base64(slices) : undefined;
      try {
        const out = await client.send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId: id,
            PartNumber: i + 1,
            Body: (slices.length === 1 ? slices[0] : new VectoredBody(slices)) as Buffer,
            ContentLength: length,
            ...(crc ? { ChecksumCRC32: crc } : {}),
          }),
          { abortSignal: signal },
        );
        if (!out.ETag)
          throw new PermanentError(`s3 put s3://${Bucket}/${Key}: part ${i + 1} returned no ETag`);
        return {
          PartNumber: i + 1,
          ETag: out.ETag,
          ...(crc ? { ChecksumCRC32: out.ChecksumCRC32 ?? crc } : {}),
        };
      } catch (e) {
        firstFailure ??= isAbortError(e) ? undefined : e;
        failFast.abort();
        throw e;
      }
    });
    // The last point where an abort can still guarantee that nothing is created; the commit
    // itself is not cancelled (it may take effect even if its answer is lost).
    options.signal?.throwIfAborted();
    const out = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: id,
        MultipartUpload: { Parts: done },
        ...conditionFields(options),
      }),
    );
    return { etag: out.ETag, parts: count };
  } catch (e) {
    if (uploadId !== undefined) await abortUpload(client, Bucket, Key, uploadId);
    // Parts cancelled because another failed report an abort: report the part that failed.
    const cause = isAbortError(e) && !options.signal?.aborted ? (firstFailure ?? e) : e;
    if (isAbortError(cause) && !options.signal?.aborted) {
      throw new TransientError(`s3 put s3://${Bucket}/${Key}: multipart upload failed`, { cause });
    }
    throw mapS3Error(cause, { op: 'put', bucket: Bucket, key: Key });
  }
}

/** Best effort: a failed abort leaves parts that a bucket lifecycle rule must clean up. */
async function abortUpload(client: S3Client, Bucket: string, Key: string, UploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  } catch (e) {
    process.emitWarning(
      `s3: could not abort multipart upload ${UploadId} of s3://${Bucket}/${Key}: ${(e as Error).message}; configure an AbortIncompleteMultipartUpload lifecycle rule`,
      { code: 'BARGE_S3_ABORT_FAILED' },
    );
  }
}
