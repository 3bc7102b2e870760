import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CorruptDataError, InvalidInputError } from './errors.js';
import {
  type DecodedMessage,
  decodeRecords,
  encodeRecords,
  isWellFormedString,
  type Message,
  type RecordContext,
  RecordReader,
  recordsSize,
} from './message.js';

const bytesOrString = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

export const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    key: fc.oneof(fc.constant(null), bytesOrString),
    value: bytesOrString,
    headers: fc.array(
      fc.record({ name: fc.string({ unit: 'grapheme', maxLength: 12 }), value: bytesOrString }),
      {
        maxLength: 4,
      },
    ),
    timestamp: fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
  },
  { requiredKeys: ['value'] },
);

const toBuf = (v: Uint8Array | string) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));

/** What decoding `m` must give back. */
export function expected(m: Message, defaultTs: number) {
  return {
    key: m.key === null || m.key === undefined ? null : toBuf(m.key),
    value: toBuf(m.value),
    headers: (m.headers ?? []).map((h) => ({ name: h.name, value: toBuf(h.value) })),
    timestamp: m.timestamp ?? defaultTs,
  };
}

export function plain(m: DecodedMessage) {
  return {
    key: m.key === null ? null : Buffer.from(m.key),
    value: Buffer.from(m.value),
    headers: m.headers.map((h) => ({ name: h.name, value: Buffer.from(h.value) })),
    timestamp: m.timestamp,
  };
}

function ctxFor(count: number, min: number, max: number): RecordContext {
  return {
    messageCount: count,
    producerId: 5,
    baseSequence: 100,
    firstMessageIndex: 10,
    minTimestamp: min,
    maxTimestamp: max,
  };
}

function assertCorrupt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof CorruptDataError && pattern.test(e.message));
}

describe('message records', () => {
  it('round trip: keys (null, empty, bytes, strings), headers, unicode, timestamps', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 20 }), (messages) => {
        const enc = encodeRecords(messages, 1234);
        assert.equal(enc.bytes.length, recordsSize(messages));
        const decoded = decodeRecords(enc.bytes, ctxFor(messages.length, enc.minTimestamp, enc.maxTimestamp));
        assert.deepEqual(
          decoded.map(plain),
          messages.map((m) => expected(m, 1234)),
        );
        decoded.forEach((d, i) => {
          assert.equal(d.sequence, 100 + i);
          assert.equal(d.index, 10 + i);
          assert.equal(d.producerId, 5);
        });
        const ts = messages.map((m) => m.timestamp ?? 1234);
        assert.equal(enc.minTimestamp, messages.length ? Math.min(...ts) : 0);
        assert.equal(enc.maxTimestamp, messages.length ? Math.max(...ts) : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes the documented layout byte for byte', () => {
    const enc = encodeRecords(
      [
        { key: 'k', value: 'hi', headers: [{ name: 'h', value: 'v' }], timestamp: 1 },
        { value: '', timestamp: -1 },
      ],
      0,
    );
    assert.equal(
      enc.bytes.toString('hex'),
      [
        '0000000000000001', // timestamp 1
        '00000001',
        '6b', // key "k"
        '00000002',
        '6869', // value "hi"
        '0001', // one header
        '0001',
        '68', // name "h"
        '00000001',
        '76', // value "v"
        'ffffffffffffffff', // timestamp -1
        'ffffffff', // null key
        '00000000', // empty value
        '0000', // no headers
      ].join(''),
    );
  });

  it('keeps an empty key distinct from a null key, and returns views, not copies', () => {
    const enc = encodeRecords([{ key: '', value: 'x' }, { key: null, value: 'y' }, { value: 'z' }], 7);
    const [a, b, c] = decodeRecords(enc.bytes, ctxFor(3, 7, 7));
    assert.deepEqual(a!.key, Buffer.alloc(0));
    assert.equal(b!.key, null);
    assert.equal(c!.key, null);
    assert.equal(a!.value.buffer, enc.bytes.buffer);
  });

  it('reads lazily with RecordReader', () => {
    const enc = encodeRecords([{ value: 'a' }, { value: 'b' }], 1);
    const r = new RecordReader(enc.bytes, ctxFor(2, 1, 1));
    assert.equal(r.remaining, 2);
    assert.equal(r.next()?.value.toString(), 'a');
    assert.equal(r.remaining, 1);
    assert.equal(r.next()?.value.toString(), 'b');
    assert.equal(r.next(), undefined);
  });

  it('rejects messages it cannot encode with InvalidInputError naming the message', () => {
    const bad: [unknown, RegExp][] = [
      [[{ value: 5 }], /message 0: value must be/],
      [[{ value: 'a' }, { value: 'b', key: 3 }], /message 1: key must be/],
      [[null], /message 0 must be an object/],
      [[{ value: 'a', timestamp: 1.5 }], /timestamp must be an integer/],
      [[{ value: 'a', timestamp: 2 ** 53 }], /timestamp must be an integer/],
      [[{ value: 'a', headers: {} }], /headers must be an array/],
      [[{ value: 'a', headers: [{ name: 1, value: 'x' }] }], /each header must be/],
      [[{ value: 'a', headers: [{ name: 'x', value: 1 }] }], /header x must be/],
      [[{ value: 'a', headers: [{ name: '\ud800', value: 'x' }] }], /not valid Unicode/],
      [[{ value: 'a', headers: [{ name: 'x'.repeat(70_000), value: 'x' }] }], /header name is 70000 bytes/],
      [
        [{ value: 'a', headers: Array.from({ length: 70_000 }, () => ({ name: 'a', value: 'b' })) }],
        /70000 headers/,
      ],
      ['not an array', /must be an array/],
    ];
    for (const [messages, pattern] of bad) {
      assert.throws(
        () => encodeRecords(messages as Message[], 0),
        (e: unknown) => e instanceof InvalidInputError && pattern.test(e.message),
        String(pattern),
      );
    }
    assert.throws(() => encodeRecords([], 1.5), InvalidInputError);
  });

  it('detects lone surrogates', () => {
    assert.equal(isWellFormedString('ok \u{1f600}'), true);
    assert.equal(isWellFormedString('\udc00x'), false);
  });
});

describe('RecordReader on bad records', () => {
  const good = encodeRecords(
    [
      { key: 'key', value: 'value', headers: [{ name: 'n', value: 'v' }], timestamp: 10 },
      { value: 'second', timestamp: 20 },
    ],
    0,
  ).bytes;

  it('rejects a count the bytes cannot hold before reading anything', () => {
    assertCorrupt(() => new RecordReader(good, ctxFor(0xffffffff, 10, 20)), /4294967295 messages cannot fit/);
  });
  it('rejects bytes left over after the last message', () => {
    assertCorrupt(
      () => decodeRecords(Buffer.concat([good, Buffer.alloc(1)]), ctxFor(2, 10, 20)),
      /1 bytes follow/,
    );
    assertCorrupt(() => decodeRecords(good, ctxFor(1, 10, 20)), /bytes follow the last message/);
  });
  it('rejects timestamps outside the chunk range', () => {
    assertCorrupt(() => decodeRecords(good, ctxFor(2, 11, 20)), /timestamp 10 is outside/);
    assertCorrupt(() => decodeRecords(good, ctxFor(2, 10, 19)), /timestamp 20 is outside/);
  });
  it('rejects lengths that run past the end or are negative', () => {
    const patch = (at: number, v: number) => {
      const b = Buffer.from(good);
      b.writeInt32BE(v, at);
      return b;
    };
    assertCorrupt(() => decodeRecords(patch(8, 0x7fffffff), ctxFor(2, 10, 20)), /key of .* runs past/);
    assertCorrupt(() => decodeRecords(patch(8, -2), ctxFor(2, 10, 20)), /key length -2/);
    assertCorrupt(() => decodeRecords(patch(15, 0x7fffffff), ctxFor(2, 10, 20)), /value of .* runs past/);
    assertCorrupt(() => decodeRecords(patch(15, -1), ctxFor(2, 10, 20)), /value length -1/);
  });
  it('rejects header names that are not UTF-8', () => {
    const b = encodeRecords([{ value: '', headers: [{ name: 'é', value: '' }], timestamp: 0 }], 0).bytes;
    b[8 + 4 + 4 + 2 + 2] = 0xff;
    assertCorrupt(() => decodeRecords(b, ctxFor(1, 0, 0)), /not valid UTF-8/);
    const ok = encodeRecords(
      [{ value: '', headers: [{ name: 'é\u{1f600}', value: '' }], timestamp: 0 }],
      0,
    ).bytes;
    assert.equal(decodeRecords(ok, ctxFor(1, 0, 0))[0]!.headers[0]!.name, 'é\u{1f600}');
  });
  it('throws only CorruptDataError on any mutation', () => {
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.nat(255), fc.nat(good.length), (at, v, cut) => {
        const b = Buffer.from(good);
        b[at] = v;
        for (const input of [b, b.subarray(0, cut)]) {
          try {
            decodeRecords(input, ctxFor(2, 10, 20));
          } catch (e) {
            assert.ok(e instanceof CorruptDataError, String(e));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
