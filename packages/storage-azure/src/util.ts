import { Readable } from 'node:stream';
import { TransientError } from '@barge/core';

/**
 * Compares two strings by their UTF-8 bytes (what S3 and the contract order keys by). JavaScript's
 * `<` compares UTF-16 code units, which differs for characters above U+FFFF vs U+E000..U+FFFF;
 * comparing code points gives the UTF-8 byte order.
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

/** Zero-copy views of `[start, end)` of the concatenation of `parts`. */
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
 * Reads a response body into one buffer of exactly `expected` bytes. Fewer or more bytes than the
 * server promised is a `TransientError`: the bytes are never returned as data.
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

export function destroyQuietly(body: unknown): void {
  if (body instanceof Readable) body.destroy();
  else if (body && typeof (body as { destroy?: unknown }).destroy === 'function') {
    (body as { destroy: () => void }).destroy();
  }
}

/**
 * Azure Blob Storage (and Azurite) list blob names in UTF-16 code-unit order, while the contract
 * orders keys by UTF-8 bytes (= code points). The two differ only where characters U+E000..U+FFFF
 * meet characters above U+FFFF (surrogate pairs). `encodeBlobName` is an order-preserving escape:
 * U+D7FF and U+E000..U+FFFF become two characters, U+D7FF followed by U+4DFF (for U+D7FF) or
 * U+4E00 + (c - U+E000), so that they sort after every other BMP character and before every
 * surrogate pair. Every other character, and so every ASCII key, is stored as it is.
 */
export function encodeBlobName(key: string): string {
  if (!NEEDS_ESCAPE.test(key)) return key;
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === ESCAPE) out += String.fromCharCode(ESCAPE, SELF);
    else if (c >= 0xe000) out += String.fromCharCode(ESCAPE, BASE + (c - 0xe000));
    else out += key[i];
  }
  return out;
}

/** The inverse of `encodeBlobName`; names not written by it come back unchanged. */
export function decodeBlobName(name: string): string {
  if (!name.includes(String.fromCharCode(ESCAPE))) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const next = name.charCodeAt(i + 1);
    if (c === ESCAPE && next === SELF) {
      out += String.fromCharCode(ESCAPE);
      i++;
    } else if (c === ESCAPE && next >= BASE && next < BASE + 0x2000) {
      out += String.fromCharCode(0xe000 + (next - BASE));
      i++;
    } else {
      out += name[i];
    }
  }
  return out;
}

const ESCAPE = 0xd7ff;
const SELF = 0x4dff;
const BASE = 0x4e00;
const NEEDS_ESCAPE = /[\ud7ff\ue000-\uffff]/;
