import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseBrokerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { fuzzRuns } from './test-support/fuzz.js';

/**
 * Property-based fuzzing of `parseBrokerConfig`: whatever value a YAML or JSON document (or a
 * programmatic caller) hands it, the result is a config or a `ConfigError` whose message names
 * the field at fault; never a `TypeError` from inside the validator.
 */

const VALID = {
  broker: { id: 2, listen: '127.0.0.1:7070', admin: '127.0.0.1:9090', dataDir: '/tmp/barge' },
  storage: { adapter: 's3', bucket: 'b' },
  pointers: { adapter: 'embedded' },
  topics: [
    { name: 'logs', writePartitions: 2, readPartitions: 3, batch: { maxBytes: '1MiB', maxDelayMs: 5 } },
    { name: 'audit', compression: 'gzip' },
  ],
  upload: { parallelism: 4, inFlightBytes: '64MiB' },
  limits: { maxFrameBytes: '8MiB', maxConnections: 10 },
};

/** Every path in `VALID` and in the parsed defaults (objects and leaves). */
function pathsOf(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v))
    out.push(...pathsOf(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}
const PATHS = [...pathsOf(VALID), ...pathsOf(parseBrokerConfig({}))].filter((p) => p.length > 0);

/** Values YAML, JSON and careless callers produce, and a few that JSON.stringify cannot print. */
const weird = fc.oneof(
  fc.anything({
    maxDepth: 2,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
  }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, '8 MiB', '-1', '1e400', '', '0x10'),
  fc.constant('circular').map(() => {
    const a: unknown[] = [];
    a.push({ a });
    return a;
  }),
);

/** The config or a ConfigError naming a field; anything else fails the property. */
function parsedOrConfigError(input: unknown): void {
  try {
    parseBrokerConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${(e as Error)?.stack ?? String(e)}`);
    assert.equal(typeof e.path, 'string');
    assert.ok(e.message.includes(e.path || '(root)'), `"${e.message}" does not name ${e.path || '(root)'}`);
  }
}

function setAt(root: unknown, path: readonly (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) {
    let next = cur[k];
    // Typed arrays ignore new keys: walk into a plain container instead.
    if (typeof next !== 'object' || next === null || ArrayBuffer.isView(next)) {
      next = typeof k === 'number' ? [] : {};
      cur[k] = next;
    }
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (remove) delete cur[last];
  else cur[last] = value;
  return copy;
}

describe('fuzz: parseBrokerConfig', () => {
  it('the sample is valid', () => {
    assert.equal(parseBrokerConfig(VALID).topics.length, 2);
  });

  it('any value at the root', () => {
    fc.assert(fc.property(weird, parsedOrConfigError), fuzzRuns(1500));
    fc.assert(fc.property(fc.jsonValue(), parsedOrConfigError), fuzzRuns(1000));
  });

  it('a valid config with fields replaced, removed or added at any depth', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom(...PATHS),
              fc.constantFrom(...PATHS).map((p) => [...p, 'extra']),
            ),
            weird,
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        (edits) => {
          let input: unknown = VALID;
          for (const [path, value, remove] of edits) input = setAt(input, path, value, remove);
          parsedOrConfigError(input);
        },
      ),
      fuzzRuns(2000),
    );
  });

  it('a field that cannot be printed is still named', () => {
    const cycle: unknown[] = [];
    cycle.push(cycle);
    for (const id of [1n, cycle]) {
      assert.throws(
        () => parseBrokerConfig({ broker: { id } }),
        (e: unknown) => e instanceof ConfigError && e.path === 'broker.id' && /broker\.id/.test(e.message),
      );
    }
  });
});
