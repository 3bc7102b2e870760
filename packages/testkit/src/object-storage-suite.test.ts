import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeObjectStorage } from './object-storage-suite.js';
import { MemoryStorage, MUTANTS, type Mutant } from './test-support/memory-storage.js';

// The reference implementation passes the whole suite...
describeObjectStorage('memory (reference implementation)', () => ({ storage: new MemoryStorage() }));

// ...and every realistic bug makes the named contract test fail. Only the tests matching the
// pattern run in each child, to keep this quick; the suite code is the same.
const EXPECTED_FAILURES: Record<Mutant, RegExp> = {
  'utf16-order': /UTF-8 byte order|startAfter/,
  'case-insensitive-order': /UTF-8 byte order/,
  'like-prefix': /filters by prefix/,
  'startafter-inclusive': /startAfter: lists strictly after/,
  'ignore-limit': /pages with limit/,
  'skip-after-page': /pages with limit/,
  'no-next-start-after': /pages with limit/,
  'list-size-zero': /reports the size of every listed object/,
  'no-prefix-validation': /rejects invalid prefixes/,
  'range-zero-pad': /truncated/,
  'range-past-end-throws': /starting exactly at the end/,
  'negative-offset-clamped': /negative or non-integer offset/,
  'missing-empty-range': /getRange of a missing key/,
  'plain-not-found': /get of a missing key/,
  'not-found-without-key': /NotFoundError naming the key/,
  'prefix-is-object': /only a prefix of other keys/,
  'delete-missing-throws': /ignores missing keys/,
  'lazy-delete-validation': /rejects the whole call/,
  'no-key-validation': /rejects an empty key/,
  'key-length-in-chars': /two-byte characters/,
  'sync-throw': /rejects an empty key/,
  'torn-write': /readers only ever see whole objects/,
  'keeps-caller-buffer': /keeps the bytes it was given/,
  'shared-result-buffer': /returns a buffer the caller owns/,
  'drops-after-empty-part': /given as Buffer\[\] parts/,
  'ignore-abort': /already aborted signal/,
  'static-etag': /same etag, and new content changes it/,
  'truncate-large': /random object of/,
  'close-throws-twice': /close\(\) is idempotent/,
};

const fixture = fileURLToPath(new URL('./test-support/mutant-suite.fixture.js', import.meta.url));

/** The environment for a nested `node --test`, without the markers that make it report to our runner. */
function childEnv(mutant: Mutant): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BARGE_MUTANT: mutant };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function runMutant(mutant: Mutant): Promise<{ code: number | null; failed: string[]; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--test', '--test-reporter=tap', `--test-name-pattern=${EXPECTED_FAILURES[mutant].source}`, fixture],
      { env: childEnv(mutant), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const failed = [...stdout.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1] ?? '');
        resolve({ code: error ? (error.code as number | null) : 0, failed, output: stdout + stderr });
      },
    );
  });
}

describe('the contract suite catches broken adapters', { concurrency: 2 }, () => {
  for (const mutant of MUTANTS) {
    it(`fails for mutant ${mutant}`, async () => {
      const { code, failed, output } = await runMutant(mutant);
      assert.notEqual(code, 0, `the suite passed a storage with bug "${mutant}"`);
      const expected = EXPECTED_FAILURES[mutant];
      assert.ok(
        failed.some((name) => expected.test(name)),
        `mutant ${mutant}: no failing test matches ${expected}; failed: ${JSON.stringify(failed)}\n${output.slice(-3000)}`,
      );
    });
  }
});
