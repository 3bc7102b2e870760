import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { codecsOf } from './test-support/codecs.js';
import { sampleOf } from './test-support/samples.js';
import { loadMessageSpecs, PACKAGE_DIR } from './test-support/schema-model.js';
import { KafkaWriter } from './wire/writer.js';

// Kafka's own message classes (kafka-clients of the test services' Kafka) decode what the generated
// encoders wrote, encode it again byte for byte, and agree on every field's value.
const pkg = fileURLToPath(PACKAGE_DIR);
// The Kafka release the vendored schemas come from (schemas/NOTICE): older kafka-clients lack versions.
const SCHEMAS_KAFKA_VERSION = '4.1.2';
const kafkaLibs = join(pkg, '..', '..', '.cache', 'services', `kafka-${SCHEMAS_KAFKA_VERSION}`, 'libs');
const java = spawnSync('java', ['-version']).status === 0;
const skip = !existsSync(kafkaLibs)
  ? `no Kafka ${SCHEMAS_KAFKA_VERSION} install in .cache/services (scripts/services.sh start kafka)`
  : !java
    ? 'java is not on PATH'
    : false;

/** Compares our value with Kafka's JSON of it (int64 as numbers, bytes as base64, uuids as base64url). */
function sameAsKafkaJson(ours: unknown, theirs: unknown, path: string): void {
  if (typeof ours === 'bigint') {
    assert.equal(Number(ours), theirs, path);
  } else if (Buffer.isBuffer(ours) && path.endsWith('.records')) {
    // Kafka's JSON has an empty placeholder for records; the re-encoded bytes compare them.
    assert.equal(theirs, '', path);
  } else if (Buffer.isBuffer(ours)) {
    assert.ok(
      theirs === ours.toString('base64') || theirs === ours.toString('base64url'),
      `${path}: ${theirs}`,
    );
  } else if (Array.isArray(ours)) {
    assert.ok(Array.isArray(theirs) && theirs.length === ours.length, path);
    ours.forEach((v, i) => {
      sameAsKafkaJson(v, (theirs as unknown[])[i], `${path}[${i}]`);
    });
  } else if (ours !== null && typeof ours === 'object') {
    assert.ok(theirs !== null && typeof theirs === 'object', path);
    // Kafka's JSON has the fields of this version only; ours has every field (defaults for the rest).
    for (const [k, v] of Object.entries(theirs as Record<string, unknown>)) {
      assert.ok(k in ours, `${path}.${k}: unknown to us`);
      sameAsKafkaJson((ours as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  } else {
    assert.equal(ours, theirs, path);
  }
}

test('Kafka decodes and re-encodes every generated message at every version identically', {
  skip,
}, async () => {
  const specs = await loadMessageSpecs();
  const cases: { name: string; version: number; hex: string; expected: unknown }[] = [];
  for (const msg of specs) {
    const { encode } = codecsOf(msg);
    for (let version = msg.validVersions.min; version <= msg.validVersions.max; version++) {
      for (const nulls of [false, true]) {
        const { input, expected } = sampleOf(msg, version, { nulls, big: false });
        const w = new KafkaWriter();
        encode(w, version, input);
        cases.push({ name: msg.name, version, hex: w.toBuffer().toString('hex'), expected });
      }
    }
  }
  const run = spawnSync(
    'java',
    ['-cp', `${kafkaLibs}/*`, join(pkg, 'scripts', 'golden', 'KafkaGolden.java')],
    {
      input: cases.map((c) => `${c.name} ${c.version} ${c.hex}\n`).join(''),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines.length, cases.length);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const line = lines[i]!;
    const where = `${c.name} v${c.version}`;
    if (line.startsWith('ERR ')) {
      failures.push(`${where}: Kafka could not decode it: ${line.slice(4)}`);
      return;
    }
    const space = line.indexOf(' ');
    const hex = line.slice(0, space);
    if (hex !== c.hex)
      failures.push(`${where}: Kafka re-encodes it differently:\n  ours   ${c.hex}\n  kafka  ${hex}`);
    try {
      sameAsKafkaJson(c.expected, JSON.parse(line.slice(space + 1)), where);
    } catch (e) {
      failures.push(`${where}: ${(e as Error).message}`);
    }
  });
  assert.deepEqual(failures, []);
});
