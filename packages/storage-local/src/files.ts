/** File-system primitives of the local adapter: vectored writes, exact reads, fsync, etags, errno codes. */
import type { BigIntStats } from 'node:fs';
import { type FileHandle, lstat, open } from 'node:fs/promises';
import { TransientError } from '@barge/core';

/** Most buffers one `writev` call takes (IOV_MAX on Linux and macOS). */
const IOV_MAX = 1024;

/** Writes every part in order with `writev`, resuming after partial writes. Returns the byte count. */
export async function writeAll(
  fh: FileHandle,
  parts: readonly Buffer[],
  signal: AbortSignal | undefined,
): Promise<number> {
  let pending = parts.filter((p) => p.length > 0);
  let position = 0;
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const batch = pending.slice(0, IOV_MAX);
    const { bytesWritten } = await fh.writev(batch, position);
    if (bytesWritten <= 0) throw new TransientError('put: the file system accepted no bytes');
    position += bytesWritten;
    let n = bytesWritten;
    let done = 0;
    while (done < batch.length && n >= (batch[done] as Buffer).length) {
      n -= (batch[done] as Buffer).length;
      done++;
    }
    pending = pending.slice(done);
    if (n > 0) pending[0] = (pending[0] as Buffer).subarray(n);
  }
  return position;
}

export async function readExactly(
  fh: FileHandle,
  position: number,
  length: number,
  key: string,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) {
      throw new TransientError(
        `read ${JSON.stringify(key)}: the file ended after ${position + off} bytes, ${length - off} short of what was expected`,
      );
    }
    off += bytesRead;
  }
  return buf;
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some platforms and file systems cannot fsync a directory; the rename is then as durable as they make it.
    if (!isCode(e, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP', 'EACCES')) throw e;
  } finally {
    await fh?.close().catch(() => {});
  }
}

let lastMtimeMicros = 0;
/**
 * A modification time unique to this process (microsecond steps, never repeating), so that the
 * etag (inode, mtime, size) changes on every put even when the kernel's clock tick is coarse and
 * an inode number is reused.
 */
export function uniqueMtimeSeconds(): number {
  lastMtimeMicros = Math.max(Date.now() * 1000, lastMtimeMicros + 1);
  return lastMtimeMicros / 1e6;
}

export function etagOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}-${st.size.toString(16)}`;
}

export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

export function isCode(e: unknown, ...codes: string[]): boolean {
  const code = errnoCode(e);
  return code !== undefined && codes.includes(code);
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}
