import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { codecsOf } from './test-support/codecs.js';
import { sampleOf } from './test-support/samples.js';
import { loadMessageSpecs } from './test-support/schema-model.js';
import { KafkaProtocolError } from './wire/errors.js';
import { KafkaReader } from './wire/reader.js';
import { KafkaWriter } from './wire/writer.js';

const specs = await loadMessageSpecs();

function versionsOf(min: number, max: number): number[] {
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

describe('generated codecs round-trip every message at every version', () => {
  test('the schemas cover the 21 APIs and both headers', () => {
    assert.equal(specs.length, 44);
    assert.equal(specs.filter((s) => s.type === 'header').length, 2);
  });

  for (const msg of specs) {
    test(msg.name, () => {
      const { decode, encode } = codecsOf(msg);
      for (const version of versionsOf(msg.validVersions.min, msg.validVersions.max)) {
        for (const opts of [
          { nulls: false, big: false },
          { nulls: true, big: false },
          { nulls: false, big: true },
        ]) {
          const { input, expected } = sampleOf(msg, version, opts);
          const w = new KafkaWriter(64);
          encode(w, version, input);
          const bytes = w.toBuffer();
          const r = new KafkaReader(bytes);
          const decoded = decode(r, version);
          assert.deepEqual(decoded, expected, `${msg.name} v${version} ${JSON.stringify(opts)}`);
          assert.equal(r.remaining, 0, `${msg.name} v${version}: bytes left over`);
          // Re-encoding what was decoded gives the same bytes.
          const w2 = new KafkaWriter();
          encode(w2, version, decoded);
          assert.deepEqual(w2.toBuffer(), bytes, `${msg.name} v${version}: re-encoding differs`);
        }
      }
    });
  }
});

describe('truncated input', () => {
  for (const msg of specs) {
    test(`${msg.name}: every strict prefix of a sample fails with a KafkaProtocolError`, () => {
      const { decode, encode } = codecsOf(msg);
      const version = msg.validVersions.max;
      const w = new KafkaWriter();
      encode(w, version, sampleOf(msg, version, { nulls: false, big: false }).input);
      const bytes = w.toBuffer();
      for (let n = 0; n < bytes.length; n++) {
        assert.throws(
          () => decode(new KafkaReader(bytes, 0, n), version),
          (e: unknown) =>
            e instanceof KafkaProtocolError &&
            (e.code === 'TRUNCATED' || e.code === 'INVALID') &&
            e.message.startsWith(`${msg.name} v${version}: `),
          `${msg.name} v${version}: prefix of ${n}/${bytes.length} bytes`,
        );
      }
    });
  }
});
