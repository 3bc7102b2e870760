import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3StorageConfig } from './config.js';
import { VectoredBody } from './util.js';

/** The `S3Client` configuration for a validated adapter config. */
export function clientConfig(c: S3StorageConfig): S3ClientConfig {
  return {
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    forcePathStyle: c.forcePathStyle,
    maxAttempts: c.maxAttempts,
    ...(c.accessKeyId && c.secretAccessKey
      ? {
          credentials: {
            accessKeyId: c.accessKeyId,
            secretAccessKey: c.secretAccessKey,
            ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
          },
        }
      : {}),
    requestChecksumCalculation: c.checksums ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
    responseChecksumValidation: c.checksums ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: c.connectionTimeoutMs,
      // `requestTimeoutMs` is an idle timeout: the handler's `socketTimeout`. (Its `requestTimeout`
      // bounds the whole exchange and, unless `throwOnRequestTimeout`, only logs a warning: a
      // blackholed connection would then hang forever.)
      socketTimeout: c.requestTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets: c.maxSockets },
      httpsAgent: { keepAlive: true, maxSockets: c.maxSockets },
    },
  };
}

/**
 * Lets a request body be a `VectoredBody` (several buffers). The retry middleware sees a plain
 * object, so it retries the request; just before each attempt is sent, this middleware swaps in a
 * fresh stream over the same buffers.
 */
export function installVectoredBodyMiddleware(client: S3Client): void {
  const name = 'bargeVectoredBody';
  client.middlewareStack.remove(name);
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown } | undefined;
      if (request && request.body instanceof VectoredBody) {
        return next({ ...args, request: { ...request, body: request.body.stream() } });
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name },
  );
}
