import type { Readable } from 'node:stream';

/**
 * Splits a byte stream into lines on `\n` only, keeping every other byte exactly (including
 * `\r`). A final line without a newline is still a line; an input ending in `\n` has no
 * trailing empty line. Yields views into the chunks where possible.
 */
export async function* readLines(input: Readable | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = buf.subarray(start, nl);
      if (carry.length > 0) {
        carry.push(piece);
        yield Buffer.concat(carry);
        carry = [];
      } else {
        yield piece;
      }
      start = nl + 1;
    }
    if (start < buf.length) carry.push(buf.subarray(start));
  }
  if (carry.length > 0) yield Buffer.concat(carry);
}
