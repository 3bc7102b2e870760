import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ConsumedMessage } from '@barge/client';
import { JsonInputError, messageFromJson, messageToJson } from './message-json.js';

function consumed(key: Buffer | null, value: Buffer, headers: [string, Buffer][] = []): ConsumedMessage {
  return {
    topic: 't',
    partition: 1,
    offset: 7,
    messageIndex: 3,
    writePartition: 1,
    batchSequence: 0,
    producerId: 1,
    sequence: 0,
    key,
    value,
    headers: headers.map(([name, v]) => ({ name, value: v })),
    timestamp: 1_700_000_000_000,
  };
}

describe('the JSON-lines form of a message', () => {
  it('prints text as text and anything else as base64, and reads back the same bytes', () => {
    for (let i = 0; i < 200; i++) {
      const m = consumed(i % 3 === 0 ? null : randomBytes(i % 7), randomBytes(i), [
        ['h', randomBytes(i % 5)],
        ['h', Buffer.from('ü')],
      ]);
      const back = messageFromJson(messageToJson(m));
      assert.deepEqual(back.key, m.key);
      assert.deepEqual(back.value, m.value);
      assert.deepEqual(
        back.headers,
        m.headers.map((h) => ({ name: h.name, value: h.value })),
      );
      assert.equal(back.timestamp, m.timestamp);
    }
    const text = JSON.parse(messageToJson(consumed(Buffer.from('k'), Buffer.from('v ✓')))) as Record<
      string,
      unknown
    >;
    assert.equal(text.value, 'v ✓');
    assert.equal(text.encoding, undefined);
    const binary = JSON.parse(messageToJson(consumed(Buffer.from('k'), Buffer.from([0xff])))) as Record<
      string,
      unknown
    >;
    assert.equal(binary.encoding, 'base64');
    assert.equal(binary.key, Buffer.from('k').toString('base64'));
  });

  it('reads headers as an object (a list repeats the name) or a list of {name, value}', () => {
    const a = messageFromJson('{"value":"v","headers":{"x":"1","y":["2","3"]}}');
    const b = messageFromJson(
      '{"value":"v","headers":[{"name":"x","value":"1"},{"name":"y","value":"2"},{"name":"y","value":"3"}]}',
    );
    assert.deepEqual(a.headers, b.headers);
    assert.deepEqual(
      a.headers.map((h) => [h.name, h.value.toString()]),
      [
        ['x', '1'],
        ['y', '2'],
        ['y', '3'],
      ],
    );
  });

  it('rejects what is not a message, naming the problem', () => {
    for (const [line, pattern] of [
      ['nope', /not valid JSON/],
      ['[1]', /expected a JSON object/],
      ['{"key":"k"}', /missing "value"/],
      ['{"value":"v","partiton":1}', /unknown field "partiton"/],
      ['{"value":"v","encoding":"hex"}', /"encoding" must be "utf8" or "base64"/],
      ['{"value":"not base64!","encoding":"base64"}', /"value" is not valid base64/],
      ['{"value":"v","headers":"x"}', /"headers" must be an object or a list/],
      ['{"value":"v","headers":[{"value":"x"}]}', /"headers"\[0\] must be/],
      ['{"value":"v","timestamp":"now"}', /"timestamp" must be ms since the epoch/],
    ] as const) {
      assert.throws(
        () => messageFromJson(line),
        (e: unknown) => e instanceof JsonInputError && pattern.test(e.message),
        line,
      );
    }
  });
});
