import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidInputError } from '../errors.js';
import { decodePointer, encodePointer, MAX_POINTER_BYTES } from '../pointer.js';
import { sampleBatch } from './fixtures.js';
import { batchPointer } from './header.js';

const valid = batchPointer(sampleBatch().batch, {
  adapter: 's3',
  location: 'bucket',
  key: 'topics/orders.eu/3/42',
});
const validJson = encodePointer(valid).toString('utf8');

/** decodePointer either returns a pointer or throws InvalidInputError; nothing else. */
function decodeOrInvalid(input: Buffer | string): boolean {
  try {
    const p = decodePointer(input);
    assert.equal(p.v, 1);
    assert.equal(typeof p.topic, 'string');
    assert.ok(Number.isSafeInteger(p.objectSize) && p.headerLength <= p.objectSize);
    return true;
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, `untyped error: ${(e as Error)?.stack ?? String(e)}`);
    return false;
  }
}

describe('fuzz: decodePointer', () => {
  it('round trips a pointer made by batchPointer', () => {
    assert.deepEqual(decodePointer(validJson), valid);
  });

  it('every truncation of a valid pointer is an InvalidInputError', () => {
    for (let n = 0; n < validJson.length; n++) {
      assert.throws(() => decodePointer(validJson.slice(0, n)), InvalidInputError);
      assert.throws(() => decodePointer(Buffer.from(validJson).subarray(0, n)), InvalidInputError);
    }
  });

  it('random strings and bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (s) => {
          decodeOrInvalid(s);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        decodeOrInvalid(Buffer.from(a));
      }),
      { numRuns: 1000 },
    );
  });

  it('random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        decodeOrInvalid(JSON.stringify(v) ?? 'null');
      }),
      { numRuns: 2000 },
    );
  });

  it('a valid pointer with one field replaced, removed or added', () => {
    const keys = [
      ...Object.keys(valid),
      'storage.adapter',
      'storage.key',
      'storage.location',
      'baseOffset',
      'extra',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.option(fc.jsonValue(), { nil: undefined }), (key, value) => {
        const o = JSON.parse(validJson) as Record<string, unknown>;
        const [outer, inner] = key.split('.') as [string, string | undefined];
        const target = inner ? (o[outer] as Record<string, unknown>) : o;
        const field = inner ?? outer;
        if (value === undefined) delete target[field];
        else target[field] = value;
        decodeOrInvalid(JSON.stringify(o));
      }),
      { numRuns: 3000 },
    );
  });

  it('baseOffset: absent, any safe non-negative integer, or refused', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeNat(), fc.integer(), fc.double(), fc.jsonValue()), (baseOffset) => {
        const json = JSON.stringify({ ...valid, baseOffset });
        const ok = Number.isSafeInteger(baseOffset) && (baseOffset as number) >= 0;
        assert.equal(decodeOrInvalid(json), ok || baseOffset === undefined, json.slice(-40));
        if (ok) assert.equal(decodePointer(json).baseOffset, JSON.parse(JSON.stringify(baseOffset)));
      }),
      { numRuns: 1000 },
    );
  });

  it('pointers above the size limit are refused before parsing', () => {
    const huge = JSON.stringify({ ...valid, topic: 'x'.repeat(MAX_POINTER_BYTES) });
    assert.throws(() => decodePointer(huge), /at most 65536 are allowed/);
  });

  it('JSON with unusual but valid syntax', () => {
    for (const s of [
      ` \n${validJson}\n `,
      validJson.replace('"v":1', '"v":1.0'),
      validJson.replace('"v":1', '"v":1e0'),
      validJson.replace(/"topic":"[^"]*"/, '"topic":"\\u006fk"'),
      validJson.replace('{', '{"__proto__":{"v":2},'),
    ]) {
      assert.equal(decodeOrInvalid(s), true, s.slice(0, 60));
    }
  });
});
