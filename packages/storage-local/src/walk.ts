import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MAX_KEY_BYTES } from '@barge/core';
import { isCode } from './files.js';

/** Characters that can never be part of a key: names containing them are not objects. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are exactly what is excluded
const NOT_A_KEY_SEGMENT = /[\u0000-\u001f\u007f\\]/;

/**
 * Keys under `dirPath` (whose key prefix is `keyPrefix`) that start with `prefix` and sort
 * after `after`, in UTF-8 byte order of the full key. A directory `d` sorts as `d/`, which is
 * where every key below it sorts, so a depth-first walk in that order yields sorted keys.
 * Directories that cannot hold a matching key are not read.
 */
export async function* walkKeys(
  dirPath: string,
  keyPrefix: string,
  prefix: string,
  after: Buffer | undefined,
): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(dirPath, { withFileTypes: true });
  } catch (e) {
    if (isCode(e, 'ENOENT', 'ENOTDIR')) return;
    throw e;
  }
  const items: { name: string; full: string; dir: boolean; sortKey: Buffer }[] = [];
  for (const d of entries) {
    if (NOT_A_KEY_SEGMENT.test(d.name)) continue; // temp files and foreign junk
    const dir = d.isDirectory();
    if (!dir && !d.isFile()) continue;
    const full = keyPrefix + d.name;
    const group = dir ? `${full}/` : full;
    if (dir ? !(group.startsWith(prefix) || prefix.startsWith(group)) : !full.startsWith(prefix)) continue;
    const sortKey = Buffer.from(group, 'utf8');
    if (!dir && sortKey.length > MAX_KEY_BYTES) continue;
    if (after) {
      const c = Buffer.compare(sortKey, after);
      // A file at or before `after` is out; so is a directory sorting before it unless
      // `after` lies inside it.
      if (dir ? c < 0 && !startsWith(after, sortKey) : c <= 0) continue;
    }
    items.push({ name: d.name, full, dir, sortKey });
  }
  items.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  for (const item of items) {
    if (item.dir) yield* walkKeys(path.join(dirPath, item.name), `${item.full}/`, prefix, after);
    else yield item.full;
  }
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.subarray(0, prefix.length).equals(prefix);
}
