/**
 * Helpers shared by storage adapters (built-in and third-party): key ordering, prefixes, body
 * slicing, bounded concurrency, exact-length body reads, and zod schemas for common config keys.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import { TransientError } from './errors.js';
import { validatePrefix } from './keys.js';
import { parseSize } from './size.js';

/**
 * Compares two strings by their UTF-8 bytes (the order S3, GCS and Azure list keys in, and the
 * order the storage contract requires). JavaScript's `<` compares UTF-16 code units, which
 * differs for characters above U+FFFF versus U+E000..U+FFFF; code points give UTF-8 order.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const cx = a.codePointAt(i) as number;
    const cy = b.codePointAt(i) as number;
    return cx < cy ? -1 : cx > cy ? 1 : 0;
  }
  return a.length - b.length;
}

/** Normalises a configured key prefix to `''` or `'some/prefix/'`. */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return p === '' ? '' : `${p}/`;
}

/** Zero-copy views of bytes `[start, end)` of the concatenation of `parts`. */
export function sliceParts(parts: readonly Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const p of parts) {
    const pEnd = pos + p.length;
    if (pEnd > start && pos < end) {
      out.push(p.subarray(Math.max(0, start - pos), Math.min(p.length, end - pos)));
    }
    pos = pEnd;
    if (pos >= end) break;
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return out;
}

/**
 * Reads a response body into one buffer of exactly `expected` bytes. Fewer or more bytes than
 * the server announced is a `TransientError`: such bytes are never returned as data.
 */
export async function readExactly(
  body: AsyncIterable<Uint8Array> | undefined,
  expected: number,
  what: string,
): Promise<Buffer> {
  const out = Buffer.allocUnsafe(expected);
  let filled = 0;
  if (body) {
    for await (const chunk of body) {
      if (filled + chunk.length > expected) {
        destroyQuietly(body);
        throw new TransientError(
          `${what}: response body is longer than the ${expected} bytes the server announced`,
        );
      }
      out.set(chunk, filled);
      filled += chunk.length;
    }
  }
  if (filled !== expected) {
    throw new TransientError(
      `${what}: response truncated: received ${filled} of ${expected} bytes; the data was not returned`,
    );
  }
  return out;
}

/** Destroys a stream-like body, ignoring anything that is not one. */
export function destroyQuietly(body: unknown): void {
  if (body instanceof Readable) body.destroy();
  else if (body && typeof (body as { destroy?: unknown }).destroy === 'function') {
    (body as { destroy: () => void }).destroy();
  }
}

/** A zod schema for a byte size: a number of bytes or a string such as `"8MiB"`. */
export const sizeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^size /, '') });
    return z.NEVER;
  }
});

/** A zod schema for a key prefix: empty, or key-like segments; leading and trailing `/` are ignored. */
export const keyPrefixSchema = z.string().superRefine((v, ctx) => {
  try {
    validatePrefix(v.replace(/^\/+/, ''));
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** Node socket and DNS error codes (and undici's) for which a retry may succeed. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
]);

/** Error names (or codes) SDKs and HTTP clients give a request that got no (complete) answer in time. */
const TIMEOUT_NAMES: ReadonlySet<string> = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutError',
  'ConnectTimeoutError',
  'HeadersTimeoutError',
  'BodyTimeoutError',
  'SocketError',
]);

/**
 * What a broken connection says in a message when its code got lost on the way (SDKs that
 * rewrap errors keep only the text): Node's `aborted` (a response cut off mid-body), `socket
 * hang up`, resets, premature close, undici's `terminated` / `other side closed`, timeouts.
 */
const BROKEN_CONNECTION_TEXT =
  /^terminated$|\baborted\b|socket hang up|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|premature close|other side closed|unexpected connection closure|connection (?:was )?(?:reset|closed|terminated)|response truncated|network timeout|timed out|\btimeout\b/i;

/**
 * True when `e`, or an error in its `cause` chain (or an `AggregateError`'s `errors`), means the
 * connection broke or the server did not answer in time: a reset, an aborted or truncated
 * response, a refused or timed-out connection, `socket hang up`, a premature close, an SDK
 * `TimeoutError`/`RequestTimeout`. Every adapter maps these to `TransientError`. An abort the
 * caller asked for (`AbortError`, `ABORT_ERR`) is not a broken connection.
 */
export function isConnectionBroken(e: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (x: unknown): boolean => {
    if (typeof x !== 'object' || x === null || seen.has(x) || seen.size > 20) return false;
    seen.add(x);
    const err = x as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (err.name === 'AbortError' || err.code === 'ABORT_ERR') return false;
    if (
      typeof err.code === 'string' &&
      (RETRYABLE_NETWORK_CODES.has(err.code) || TIMEOUT_NAMES.has(err.code))
    ) {
      return true;
    }
    if (typeof err.name === 'string' && TIMEOUT_NAMES.has(err.name)) return true;
    if (typeof err.message === 'string' && BROKEN_CONNECTION_TEXT.test(err.message)) return true;
    if (Array.isArray(err.errors) && err.errors.some(visit)) return true;
    return visit(err.cause);
  };
  return visit(e);
}

/** HTTP statuses worth retrying: 5xx, 408 Request Timeout, 429 Too Many Requests. */
export function isRetryableHttpStatus(status: number | undefined): boolean {
  return status !== undefined && (status >= 500 || status === 408 || status === 429);
}

/** The first non-blank line of an SDK message, at most 300 characters, for error messages. */
export function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** An HTTP ETag without its quotes: `Etag` as returned, and the `version` that `ifMatch` takes. */
export function etagVersion(raw: string | undefined): { etag?: string; version?: string } {
  if (!raw) return {};
  const tag = raw.replace(/^"|"$/g, '');
  return { etag: tag, version: tag };
}

/** A `version` as an `If-Match` header wants it: quoted once. */
export function quotedEtag(version: string): string {
  return `"${version.replace(/^"|"$/g, '')}"`;
}

/** How a refused conditional put names its condition in an error message. */
export function putConditionLabel(o: { ifNoneMatch?: '*'; ifMatch?: string }): string {
  return o.ifNoneMatch !== undefined ? 'if none match' : `if match ${JSON.stringify(o.ifMatch)}`;
}
