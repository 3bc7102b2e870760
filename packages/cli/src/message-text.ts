import type { ConsumedMessage } from '@barge/client';

/**
 * The line form of a message (`--format value`, the default of `produce` and `consume`): its value
 * bytes exactly, or with a key separator `KEY SEP VALUE`, as kcat's `-K` reads and prints them.
 */

/**
 * Splits a produced line at the first `separator` into key and value. A line without the
 * separator has no key and is the value as a whole (as kcat does). Copies: the line may be a
 * view into a buffer the input stream reuses.
 */
export function splitKey(line: Buffer, separator: Buffer): { key: Buffer | null; value: Buffer } {
  const at = line.indexOf(separator);
  if (at === -1) return { key: null, value: Buffer.from(line) };
  return {
    key: Buffer.from(line.subarray(0, at)),
    value: Buffer.from(line.subarray(at + separator.length)),
  };
}

/** A consumed message as one output line: `VALUE\n`, or `KEY SEP VALUE\n` (no key: empty). */
export function valueLine(m: ConsumedMessage, separator?: Buffer): Buffer {
  const parts = separator === undefined ? [m.value] : [m.key ?? Buffer.alloc(0), separator, m.value];
  return Buffer.concat([...parts, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');
