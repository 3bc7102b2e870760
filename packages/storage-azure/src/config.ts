import { keyPrefixSchema, sizeSchema } from '@barge/core';
import { z } from 'zod';

const MiB = 1024 * 1024;

/** How the adapter authenticates; exactly one per config. */
export type AzureAuthMode = 'connectionString' | 'sasToken' | 'accountKey' | 'defaultAzureCredential';

const AUTH_HELP =
  'give exactly one of: connectionString; accountUrl + sasToken; accountUrl + accountName + accountKey; accountUrl + useDefaultAzureCredential: true';

/** The `storage:` section for `adapter: azure` (without `adapter`). */
export const azureConfigSchema = z
  .strictObject({
    /** Container name (required): 3-63 lowercase letters, digits and single hyphens. */
    container: z
      .string()
      .min(1, 'container is required')
      .regex(
        /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/,
        'expected an Azure container name: 3-63 lowercase letters, digits and single "-"',
      ),
    /** Key prefix inside the container, e.g. `barge`; blobs go under `<prefix>/`. */
    prefix: keyPrefixSchema.default(''),
    /** A storage connection string (account key or SAS inside). */
    connectionString: z.string().min(1).optional(),
    /** The blob endpoint, e.g. `https://myaccount.blob.core.windows.net`. */
    accountUrl: z
      .url({ message: 'expected a URL such as "https://myaccount.blob.core.windows.net"' })
      .optional(),
    /** A SAS token (with or without the leading `?`), used with `accountUrl`. */
    sasToken: z.string().min(1).optional(),
    /** Account name for shared-key auth, used with `accountUrl` and `accountKey`. */
    accountName: z.string().min(1).optional(),
    /** Account key for shared-key auth, used with `accountUrl` and `accountName`. */
    accountKey: z.string().min(1).optional(),
    /** Authenticate with `DefaultAzureCredential` (managed identity, workload identity, env, CLI). */
    useDefaultAzureCredential: z.boolean().optional(),
    /** Bodies larger than this are uploaded as blocks in parallel (Put Block + Put Block List). */
    maxSingleShotSize: sizeSchema
      .refine((n) => n <= 5000 * MiB, 'must be at most 5000 MiB (Put Blob limit)')
      .default(16 * MiB),
    /** Block size for block uploads. */
    blockSize: sizeSchema
      .refine((n) => n >= 1, 'must be positive')
      .refine((n) => n <= 4000 * MiB, 'must be at most 4000 MiB (Put Block limit)')
      .default(8 * MiB),
    /** Blocks uploaded in parallel per blob. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Send Content-MD5 with every upload request so the service verifies what it received. */
    transactionalMD5: z.boolean().default(true),
    /** Attempts per request, including the first (the SDK's storage retry policy). */
    maxTries: z.number().int().min(1).max(20).default(4),
    /** Timeout of one attempt of one request. */
    tryTimeoutMs: z.number().int().min(1).optional(),
    /** Delay before the first retry; grows exponentially up to `maxRetryDelayMs`. */
    retryDelayMs: z.number().int().min(1).default(500),
    maxRetryDelayMs: z.number().int().min(1).default(10_000),
    /**
     * The SDK resumes a download whose body ended cleanly but short this many times (ETag-pinned).
     * A dropped connection is not resumed: it is a `TransientError`.
     */
    maxDownloadRetries: z.number().int().min(0).max(20).default(3),
    /** Send `startFrom` so listing after a key starts there on the server (keys are filtered either way). */
    listStartFrom: z.boolean().default(true),
    /** Parallel requests for `delete`. */
    deleteConcurrency: z.number().int().min(1).max(256).default(16),
    /**
     * Encryption scope of every blob written (Put Blob, Put Block, Put Block List). Unset: the
     * container's default scope, else the account's.
     */
    encryptionScope: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]{1,61}[A-Za-z0-9]$/, 'expected 3-63 letters, digits and "-"')
      .optional(),
  })
  .superRefine((c, ctx) => {
    const modes = authModesOf(c);
    if (modes.length === 0) {
      const partial =
        c.accountUrl !== undefined
          ? 'accountUrl is given but no credential for it'
          : c.accountName !== undefined || c.accountKey !== undefined || c.sasToken !== undefined
            ? 'accountUrl is missing'
            : 'no credentials given';
      ctx.addIssue({ code: 'custom', path: ['connectionString'], message: `${partial}: ${AUTH_HELP}` });
      return;
    }
    if (modes.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [
          modes[1] === 'sasToken'
            ? 'sasToken'
            : modes[1] === 'accountKey'
              ? 'accountKey'
              : 'useDefaultAzureCredential',
        ],
        message: `several credentials given (${modes.join(', ')}): ${AUTH_HELP}`,
      });
      return;
    }
    const mode = modes[0];
    if (mode === 'connectionString') {
      for (const f of ['accountUrl', 'accountName', 'accountKey', 'sasToken'] as const) {
        if (c[f] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [f],
            message: `not allowed with connectionString: ${AUTH_HELP}`,
          });
        }
      }
      return;
    }
    if (c.accountUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['accountUrl'], message: `required with ${mode}: ${AUTH_HELP}` });
    }
    if (mode === 'accountKey' && (c.accountName === undefined || c.accountKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.accountName === undefined ? 'accountName' : 'accountKey'],
        message: 'accountName and accountKey must be given together (with accountUrl)',
      });
    }
    if (mode !== 'accountKey' && c.accountName !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['accountName'],
        message: `only used with accountKey: ${AUTH_HELP}`,
      });
    }
  });

function authModesOf(c: {
  connectionString?: string | undefined;
  sasToken?: string | undefined;
  accountKey?: string | undefined;
  accountName?: string | undefined;
  useDefaultAzureCredential?: boolean | undefined;
}): AzureAuthMode[] {
  const modes: AzureAuthMode[] = [];
  if (c.connectionString !== undefined) modes.push('connectionString');
  if (c.sasToken !== undefined) modes.push('sasToken');
  if (c.accountKey !== undefined || c.accountName !== undefined) modes.push('accountKey');
  if (c.useDefaultAzureCredential === true) modes.push('defaultAzureCredential');
  return modes;
}

/** The authentication mode of a validated config. */
export function authModeOf(c: AzureStorageConfig): AzureAuthMode {
  return authModesOf(c)[0] as AzureAuthMode;
}

export type AzureStorageOptions = z.input<typeof azureConfigSchema>;
export type AzureStorageConfig = z.output<typeof azureConfigSchema>;
