/**
 * Shared knobs for core's property-based fuzz tests: a time budget per property, an optional
 * fixed seed to replay a failure, and an allocation probe. Not part of the published package.
 */
import fc from 'fast-check';

/** Wall-clock budget of one property: fast-check stops generating inputs after it (not a failure). */
export const PROPERTY_TIME_LIMIT_MS = 3_000;

/**
 * `fc.assert` parameters: at most `numRuns` inputs within `PROPERTY_TIME_LIMIT_MS`. Set
 * `BARGE_FUZZ_SEED` (and `BARGE_FUZZ_PATH` from a failure report) to replay a reported failure.
 */
export function fuzzRuns(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.BARGE_FUZZ_SEED;
  const path = process.env.BARGE_FUZZ_PATH;
  return {
    numRuns,
    interruptAfterTimeLimit: PROPERTY_TIME_LIMIT_MS,
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
  };
}

type Allocator = (n: number, ...rest: unknown[]) => Buffer;

/**
 * Largest single buffer requested through Buffer's allocators while `fn` runs, and the growth
 * of memory held in ArrayBuffers. Catches a decoder that sizes an allocation from a length
 * field before checking it against the input.
 */
export function allocationsDuring(fn: () => void): { largest: number; arrayBuffersGrowth: number } {
  const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', Allocator>;
  const saved = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow };
  let largest = 0;
  for (const k of Object.keys(saved) as (keyof typeof saved)[]) {
    const orig = saved[k];
    B[k] = (n: number, ...rest: unknown[]) => {
      if (n > largest) largest = n;
      return orig.call(Buffer, n, ...rest);
    };
  }
  const before = process.memoryUsage().arrayBuffers;
  let after = before;
  try {
    fn();
    after = process.memoryUsage().arrayBuffers;
  } finally {
    Object.assign(B, saved);
  }
  return { largest, arrayBuffersGrowth: after - before };
}

/** `allocationsDuring(fn).largest`. */
export function largestAllocationDuring(fn: () => void): number {
  return allocationsDuring(fn).largest;
}

/** Runs `fn`; returns the error it threw, or undefined. Rethrows unless `allowed(error)`. */
export function outcome(fn: () => unknown, allowed: (e: unknown) => boolean): unknown {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!allowed(e)) throw e;
    return e;
  }
}

/** Ways to damage a valid encoding: cut it, flip bits, overwrite bytes with extreme values, splice. */
export type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; bits: number[] }
  | { kind: 'extreme'; at: number; width: 1 | 2 | 4 | 8; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const EXTREMES = [0, 1, 0x7f, 0x80, 0xff] as const;

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
  fc.record({
    kind: fc.constant('extreme' as const),
    at: fc.nat(),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    value: fc.constantFrom(...EXTREMES),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

/**
 * Applies `m` to a copy of `input`. Positions are taken modulo the input's length. An `extreme`
 * write fills `width` bytes with the top byte `value` then 0xff (e.g. 0x7fffffff, 0xffff, 0x80ff...),
 * which is how length and count fields turn absurd.
 */
export function mutate(input: Buffer, m: Mutation): Buffer {
  const n = input.length;
  switch (m.kind) {
    case 'truncate':
      return Buffer.from(input.subarray(0, n === 0 ? 0 : m.at % n));
    case 'flip': {
      const out = Buffer.from(input);
      if (n > 0) for (const b of m.bits) out[(b >>> 3) % n]! ^= 1 << (b & 7);
      return out;
    }
    case 'extreme': {
      const out = Buffer.from(input);
      const at = n === 0 ? 0 : m.at % n;
      for (let i = 0; i < m.width && at + i < n; i++) out[at + i] = i === 0 ? m.value : 0xff;
      return out;
    }
    case 'insert': {
      const at = n === 0 ? 0 : m.at % (n + 1);
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    }
    case 'delete': {
      const at = n === 0 ? 0 : m.at % n;
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.count)]);
    }
  }
}
