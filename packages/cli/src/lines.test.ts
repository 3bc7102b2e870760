import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLines } from './lines.js';

async function collect(chunks: string[]): Promise<string[]> {
  async function* src() {
    for (const c of chunks) yield Buffer.from(c);
  }
  const out: string[] = [];
  for await (const l of readLines(src())) out.push(l.toString());
  return out;
}

describe('readLines', () => {
  it('splits on newlines across chunk boundaries', async () => {
    assert.deepEqual(await collect(['ab', 'c\nde', 'f\n\ng']), ['abc', 'def', '', 'g']);
  });
  it('has no trailing empty line after a final newline', async () => {
    assert.deepEqual(await collect(['a\nb\n']), ['a', 'b']);
  });
  it('keeps carriage returns and other bytes exactly', async () => {
    assert.deepEqual(await collect(['a\r\n\tb \n']), ['a\r', '\tb ']);
  });
  it('yields nothing for empty input', async () => {
    assert.deepEqual(await collect([]), []);
    assert.deepEqual(await collect(['']), []);
  });
  it('handles a newline-only input as one empty line', async () => {
    assert.deepEqual(await collect(['\n']), ['']);
  });
});
