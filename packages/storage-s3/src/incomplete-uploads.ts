import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { IncompleteUpload } from '@barge/core';
import { mapS3Error } from './errors.js';

/** How the adapter maps keys to stored keys: `<base>[<hh>/]<key>`. */
export interface KeyLayout {
  readonly bucket: string;
  readonly base: string;
  readonly hashPrefix: boolean;
}

/**
 * Multipart uploads under `prefix` that were neither completed nor aborted (a broker killed
 * mid-upload leaves them; S3 keeps and bills their parts). With `hashPrefix` every upload under
 * the base prefix is listed and filtered.
 */
export async function listIncompleteUploads(
  client: S3Client,
  layout: KeyLayout,
  prefix: string,
): Promise<IncompleteUpload[]> {
  const out: IncompleteUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    let page: ListMultipartUploadsCommandOutput;
    try {
      page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: layout.bucket,
          Prefix: layout.hashPrefix ? layout.base : layout.base + prefix,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
    } catch (e) {
      throw mapS3Error(e, { op: 'list', bucket: layout.bucket, key: layout.base + prefix });
    }
    for (const u of page.Uploads ?? []) {
      const key = u.Key === undefined ? undefined : keyOf(layout, u.Key);
      if (key === undefined || !key.startsWith(prefix) || !u.UploadId) continue;
      out.push({ key, uploadId: u.UploadId, startedAt: u.Initiated ?? new Date(0) });
    }
    if (!page.IsTruncated) return out;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

export async function abortIncompleteUpload(
  client: S3Client,
  layout: KeyLayout,
  storedKey: string,
  upload: IncompleteUpload,
): Promise<void> {
  try {
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: layout.bucket, Key: storedKey, UploadId: upload.uploadId }),
    );
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return; // already completed or aborted
    throw mapS3Error(e, { op: 'delete', bucket: layout.bucket, key: storedKey });
  }
}

/** The adapter key of a stored key, or undefined when it is not under the base prefix. */
function keyOf(layout: KeyLayout, stored: string): string | undefined {
  if (!stored.startsWith(layout.base)) return undefined;
  const rest = stored.slice(layout.base.length);
  if (!layout.hashPrefix) return rest;
  const m = /^[0-9a-f]{2}\/(.*)$/s.exec(rest);
  return m?.[1];
}
