import { keyPrefixSchema, sizeSchema } from '@barge/core';
import { z } from 'zod';

const MiB = 1024 * 1024;

/** The `storage:` section for `adapter: s3` (without `adapter`). */
export const s3ConfigSchema = z
  .strictObject({
    /** Bucket name (required). */
    bucket: z
      .string()
      .min(1, 'bucket is required')
      .regex(/^[a-zA-Z0-9.\-_]{1,255}$/, 'expected an S3 bucket name (letters, digits, ".", "-", "_")'),
    /** Key prefix inside the bucket, e.g. `barge`; objects go under `<prefix>/`. */
    prefix: keyPrefixSchema.default(''),
    region: z.string().min(1).default('us-east-1'),
    /** For S3-compatible stores: `http(s)://host:port`. */
    endpoint: z.url({ message: 'expected a URL such as "http://127.0.0.1:9000"' }).optional(),
    /** Path-style addressing (`endpoint/bucket/key`), needed by most S3-compatible stores. */
    forcePathStyle: z.boolean().default(false),
    /** Static credentials. When absent, the SDK's standard credential chain is used. */
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().min(1).optional(),
    /** Insert `<2 hex of SHA-256(key)>/` after the prefix to spread request load over 256 prefixes. */
    hashPrefix: z.boolean().default(false),
    /** Bodies of at least this many bytes are uploaded with multipart upload. */
    multipartThresholdBytes: sizeSchema.default(16 * MiB),
    /** Multipart part size (S3 minimum 5 MiB, maximum 5 GiB). */
    partSize: sizeSchema
      .refine((n) => n >= 5 * MiB, 'must be at least 5 MiB (S3 minimum part size)')
      .refine((n) => n <= 5 * 1024 * MiB, 'must be at most 5 GiB (S3 maximum part size)')
      .default(8 * MiB),
    /** Parts uploaded in parallel per object. */
    partConcurrency: z.number().int().min(1).max(64).default(4),
    /** Attempts per request, including the first (the SDK's standard retry strategy). */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Send CRC-32 checksums with uploads and validate them on full downloads when the store returns them. */
    checksums: z.boolean().default(true),
    /** Concurrent list requests when `hashPrefix` fans a listing out over 256 prefixes. */
    listConcurrency: z.number().int().min(1).max(256).default(16),
    /** TCP connect timeout per request. */
    connectionTimeoutMs: z.number().int().min(1).default(10_000),
    /** Socket idle timeout per request (no bytes for this long: the attempt fails and is retried). */
    requestTimeoutMs: z.number().int().min(1).default(60_000),
    /** Maximum sockets to the endpoint. */
    maxSockets: z.number().int().min(1).max(4096).default(64),
    /** Server-side encryption of every object written: SSE-S3 (`AES256`) or SSE-KMS (`aws:kms`). */
    serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
    /** SSE-KMS key (id, ARN or alias ARN); without it S3 uses the account's `aws/s3` key. */
    kmsKeyId: z.string().min(1).optional(),
    /** SSE-KMS with an S3 Bucket Key (fewer KMS requests). */
    bucketKeyEnabled: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.accessKeyId === undefined) !== (c.secretAccessKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'],
        message:
          'accessKeyId and secretAccessKey must be given together (or neither, to use the standard AWS credential chain)',
      });
    }
    for (const key of ['kmsKeyId', 'bucketKeyEnabled'] as const) {
      if (c[key] !== undefined && c.serverSideEncryption !== 'aws:kms') {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs serverSideEncryption: aws:kms` });
      }
    }
    if (c.sessionToken !== undefined && c.accessKeyId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sessionToken'],
        message: 'sessionToken needs accessKeyId and secretAccessKey',
      });
    }
  });

export type S3StorageOptions = z.input<typeof s3ConfigSchema>;
export type S3StorageConfig = z.output<typeof s3ConfigSchema>;
