import http from 'node:http';
import https from 'node:https';
import { CorruptDataError, TransientError } from '@barge/core';
import type { Storage } from '@google-cloud/storage';
import { FastCrc32c } from './crc32c.js';

/**
 * Object downloads (`alt=media`) over `node:http(s)` rather than through `@google-cloud/storage`.
 *
 * Why: the client's download stream is a node-fetch 2 body piped from the HTTP response, and a
 * response that ends before its `Content-Length` (connection closed mid-body) neither ends nor
 * errors that stream: the read hangs forever. Here the raw response is read directly, so a short
 * body is an error at once, the length is checked against `Content-Length` / `Content-Range`, and
 * full downloads are checked against the CRC32C in `x-goog-hash`, as the client would.
 *
 * Authentication and endpoint are the client's: its `baseUrl`, and its auth headers unless it
 * talks to a custom endpoint without `useAuthWithCustomEndpoint` (as the client does).
 */
export interface DownloadOptions {
  maxRetries: number;
  maxRetryDelayMs: number;
  /** Socket idle timeout per attempt. */
  timeoutMs: number;
  validation: boolean;
}

export interface DownloadResult {
  status: number;
  data: Buffer;
}

/** An HTTP error answer, shaped like the client's ApiError (`code` = status) for `mapGcsError`. */
export class GcsHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly errors: { reason?: string; message?: string }[] = [],
  ) {
    super(message);
    this.name = 'GcsHttpError';
  }
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export class Downloader {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(
    private readonly storage: Storage,
    private readonly options: DownloadOptions,
  ) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /**
   * The object, or `[start, end]` (inclusive) of it. Resolves with status 416 and no data when
   * the range starts at or past the end. Throws `GcsHttpError` for other HTTP errors,
   * `TransientError` for short or failed bodies and `CorruptDataError` for a CRC32C mismatch.
   */
  async download(
    bucket: string,
    name: string,
    range: { start: number; end: number } | undefined,
    what: string,
  ): Promise<DownloadResult> {
    const url = new URL(
      `${this.storage.baseUrl}/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`.replace(
        /^(https?:\/\/[^/]+)\/\//,
        '$1/',
      ),
    );
    url.searchParams.set('alt', 'media');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(url, range, what);
      } catch (e) {
        if (!isRetryable(e) || attempt >= this.options.maxRetries) throw e;
        const delay = Math.min(this.options.maxRetryDelayMs, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async headers(range: { start: number; end: number } | undefined): Promise<Record<string, string>> {
    const h: Record<string, string> = { 'accept-encoding': 'identity', 'cache-control': 'no-store' };
    if (range) h.range = `bytes=${range.start}-${range.end}`;
    if (!this.storage.customEndpoint || this.storage.useAuthWithCustomEndpoint) {
      const auth = (await this.storage.authClient.getRequestHeaders()) as unknown as Record<string, string>;
      Object.assign(h, auth);
    }
    return h;
  }

  private async attempt(
    url: URL,
    range: { start: number; end: number } | undefined,
    what: string,
  ): Promise<DownloadResult> {
    const headers = await this.headers(range);
    const lib = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = lib.request(
        url,
        { method: 'GET', headers, agent, timeout: this.options.timeoutMs },
        resolve,
      );
      req.on('timeout', () =>
        req.destroy(
          Object.assign(new Error(`no response within ${this.options.timeoutMs} ms`), { code: 'ETIMEDOUT' }),
        ),
      );
      req.on('error', reject);
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status === 416) {
      res.resume();
      return { status, data: Buffer.alloc(0) };
    }
    if (status < 200 || status >= 300) {
      const text = (await readBody(res, undefined, what).catch(() => Buffer.alloc(0))).toString('utf8');
      throw httpError(status, text);
    }
    const cl = res.headers['content-length'];
    const announced = cl === undefined ? undefined : Number(cl);
    let data: Buffer;
    try {
      data = await readBody(res, announced, what);
    } catch (e) {
      if (e instanceof TransientError) throw e;
      throw new TransientError(`${what}: response body failed (${describe(e)}); the data was not returned`, {
        cause: e,
      });
    }
    if (range) {
      const cr = res.headers['content-range'];
      const m = cr ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr.trim()) : null;
      if (status === 206) {
        const total = !m || m[3] === '*' ? Number.POSITIVE_INFINITY : Number(m[3]);
        const expected = Math.min(range.end + 1, total) - range.start;
        if (
          !m ||
          Number(m[1]) !== range.start ||
          Number(m[2]) - range.start + 1 !== expected ||
          data.length !== expected
        ) {
          throw new TransientError(
            `${what}: server answered ${cr ?? 'no Content-Range'} with ${data.length} bytes, expected ${expected} bytes from ${range.start}`,
          );
        }
        return { status, data };
      }
      // 200: the server ignored the range and sent the whole object.
      this.validate(res, data, what);
      return {
        status,
        data: data.subarray(Math.min(range.start, data.length), Math.min(range.end + 1, data.length)),
      };
    }
    this.validate(res, data, what);
    return { status, data };
  }

  /** CRC32C of a whole object against `x-goog-hash`, when the object is stored as is. */
  private validate(res: http.IncomingMessage, data: Buffer, what: string): void {
    if (!this.options.validation) return;
    const stored = res.headers['x-goog-stored-content-encoding'];
    if ((stored !== undefined && stored !== 'identity') || res.headers['content-encoding'] === 'gzip') return;
    const hash = [res.headers['x-goog-hash'] ?? []].flat().join(',');
    const expected = /crc32c=([A-Za-z0-9+/=]+)/.exec(hash)?.[1];
    if (!expected) return;
    const crc = new FastCrc32c();
    crc.update(data);
    if (crc.toString() !== expected) {
      throw new CorruptDataError(
        `${what}: CRC32C ${crc.toString()} of the received bytes does not match the object's ${expected}`,
      );
    }
  }
}

/** Reads the body; fewer or more bytes than `expected`, or a body that fails, is a `TransientError`. */
function readBody(res: http.IncomingMessage, expected: number | undefined, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      res.destroy();
      reject(e);
    };
    res.on('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      if (expected !== undefined && received > expected) {
        fail(new TransientError(`${what}: response body is longer than the ${expected} bytes announced`));
      }
    });
    res.on('aborted', () =>
      fail(
        new TransientError(
          `${what}: response truncated: connection closed after ${received}${expected === undefined ? '' : ` of ${expected}`} bytes; the data was not returned`,
        ),
      ),
    );
    res.on('error', (e) =>
      fail(
        new TransientError(
          `${what}: response truncated after ${received}${expected === undefined ? '' : ` of ${expected}`} bytes (${describe(e)}); the data was not returned`,
          { cause: e },
        ),
      ),
    );
    res.on('end', () => {
      if (done) return;
      if (expected !== undefined && received !== expected) {
        fail(
          new TransientError(
            `${what}: response truncated: received ${received} of ${expected} bytes; the data was not returned`,
          ),
        );
        return;
      }
      done = true;
      resolve(Buffer.concat(chunks, received));
    });
  });
}

function httpError(status: number, body: string): GcsHttpError {
  try {
    const j = JSON.parse(body) as {
      error?: { message?: string; errors?: { reason?: string; message?: string }[] };
    };
    if (j.error) return new GcsHttpError(status, j.error.message ?? `HTTP ${status}`, j.error.errors ?? []);
  } catch {
    // not JSON
  }
  const text = body.replace(/\s+/g, ' ').trim();
  return new GcsHttpError(status, text.length > 0 ? text.slice(0, 300) : `HTTP ${status}`);
}

function isRetryable(e: unknown): boolean {
  if (e instanceof GcsHttpError) return RETRYABLE_STATUS.has(e.code);
  if (e instanceof TransientError || e instanceof CorruptDataError) return false;
  const code = (e as { code?: unknown })?.code;
  const msg = (e as { message?: unknown })?.message;
  return (
    (typeof code === 'string' && RETRYABLE_CODES.has(code)) ||
    (typeof msg === 'string' && /socket hang up/i.test(msg))
  );
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${(e as { code?: string }).code ?? e.name}: ${e.message}`;
  return String(e);
}
