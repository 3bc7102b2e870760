import type { ServerSideEncryption } from '@aws-sdk/client-s3';
import type { S3StorageConfig } from './config.js';

/** Request fields of PutObject and CreateMultipartUpload that ask S3 to encrypt the object. */
export interface SseFields {
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
}

/**
 * The server-side encryption the config asks for, as request fields; none when the config sets
 * nothing (the bucket's default encryption then applies, SSE-S3 on AWS since 2023).
 */
export function sseFields(config: S3StorageConfig): SseFields {
  const { serverSideEncryption, kmsKeyId, bucketKeyEnabled } = config;
  if (serverSideEncryption === undefined) return {};
  return {
    ServerSideEncryption: serverSideEncryption,
    ...(kmsKeyId !== undefined ? { SSEKMSKeyId: kmsKeyId } : {}),
    ...(bucketKeyEnabled !== undefined ? { BucketKeyEnabled: bucketKeyEnabled } : {}),
  };
}
