import { keyPrefixSchema, sizeSchema } from '@barge/core';
import { z } from 'zod';

const MiB = 1024 * 1024;

/** The `storage:` section for `adapter: gcs` (without `adapter`). */
export const gcsConfigSchema = z.strictObject({
  /** Bucket name (required). */
  bucket: z
    .string()
    .min(1, 'bucket is required')
    .regex(
      /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
      'expected a GCS bucket name (lowercase letters, digits, ".", "-", "_")',
    ),
  /** Key prefix inside the bucket, e.g. `barge`; objects go under `<prefix>/`. */
  prefix: keyPrefixSchema.default(''),
  /** Project id; needed only to create buckets. Default: from the credentials or environment. */
  projectId: z.string().min(1).optional(),
  /** Custom endpoint, e.g. an emulator `http://127.0.0.1:4443`. */
  apiEndpoint: z.url({ message: 'expected a URL such as "http://127.0.0.1:4443"' }).optional(),
  /** Authenticate against `apiEndpoint` too (default: only against the real service). */
  useAuthWithCustomEndpoint: z.boolean().optional(),
  /** Path to a service-account JSON key. Default: Application Default Credentials. */
  keyFilename: z.string().min(1).optional(),
  /** Service-account credentials inline. Default: Application Default Credentials. */
  credentials: z
    .looseObject({
      client_email: z.string().min(1),
      private_key: z.string().min(1),
    })
    .optional(),
  /** Bodies of at least this many bytes use a resumable upload; smaller ones a single request. */
  resumableThresholdBytes: sizeSchema.default(8 * MiB),
  /**
   * Resumable uploads send the body in chunks of this size (a multiple of 256 KiB), each retried on
   * its own. Unset: the whole body in one request after the session is created.
   */
  resumableChunkSize: sizeSchema
    .refine((n) => n > 0 && n % (256 * 1024) === 0, 'must be a positive multiple of 256 KiB')
    .optional(),
  /** Check CRC32C of uploads and of full downloads (ranged reads are checked by length only). */
  validation: z.boolean().default(true),
  /** Retries per request after the first attempt (the client's standard retry). */
  maxRetries: z.number().int().min(0).max(20).default(3),
  /** Longest wait between retries, in seconds. */
  maxRetryDelaySeconds: z.number().positive().default(8),
  /**
   * Timeout of one attempt of a metadata request (until its response is read), socket idle
   * timeout of a download, and the base of a resumable upload's timeout (plus 1 s per MB).
   */
  timeoutMs: z.number().int().min(1).default(60_000),
  /** Parallel requests for `delete`. */
  deleteConcurrency: z.number().int().min(1).max(256).default(16),
  /**
   * Customer-managed encryption key (CMEK) for every object written, as a Cloud KMS key name.
   * Unset: the bucket's default key, else Google-managed encryption.
   */
  kmsKeyName: z
    .string()
    .regex(
      /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/,
      'expected "projects/P/locations/L/keyRings/R/cryptoKeys/K"',
    )
    .optional(),
});

export type GcsStorageOptions = z.input<typeof gcsConfigSchema>;
export type GcsStorageConfig = z.output<typeof gcsConfigSchema>;
