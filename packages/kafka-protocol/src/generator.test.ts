import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { codecsOf } from './test-support/codecs.js';
import { sampleOf } from './test-support/samples.js';
import { type MessageSpec, PACKAGE_DIR } from './test-support/schema-model.js';
import { KafkaReader } from './wire/reader.js';
import { KafkaWriter } from './wire/writer.js';

// Schema features the vendored schemas do not use (commonStructs, a field that turns tagged in a
// later version, uint16, float64, a non-tagged struct field, a field-level flexibleVersions),
// generated, compiled and round-tripped.
const SCHEMA = `// License header, with a "quoted // thing" in a comment.
{
  "apiKey": 9999, "type": "request", "name": "SyntheticRequest",
  "validVersions": "0-4", "flexibleVersions": "2+",
  "fields": [
    { "name": "Url", "type": "string", "versions": "0+", "default": "http://example.com/a//b",
      "about": "A default with // inside a string." },
    { "name": "Small", "type": "int8", "versions": "0+" },
    { "name": "Port", "type": "uint16", "versions": "1+", "default": "9092" },
    { "name": "Ratio", "type": "float64", "versions": "0+" },
    { "name": "Legacy", "type": "string", "versions": "0+", "flexibleVersions": "none", "nullableVersions": "0+" },
    { "name": "Later", "type": "int32", "versions": "0+", "taggedVersions": "3+", "tag": 4, "default": "-1" },
    { "name": "Blob", "type": "bytes", "versions": "0+" },
    { "name": "Names", "type": "[]string", "versions": "1+", "nullableVersions": "3+" },
    { "name": "Owner", "type": "Peer", "versions": "0+" },
    { "name": "Peers", "type": "[]Peer", "versions": "2+", "taggedVersions": "2+", "tag": 0 },
    { "name": "Inline", "type": "Holder", "versions": "0-3", "fields": [
      { "name": "Id", "type": "uuid", "versions": "0+" },
      { "name": "Backups", "type": "[]Peer", "versions": "0+" }
    ]}
  ],
  "commonStructs": [
    { "name": "Peer", "versions": "0+", "fields": [
      { "name": "NodeId", "type": "int32", "versions": "0+" },
      { "name": "Rack", "type": "string", "versions": "1+", "nullableVersions": "1+", "default": "null" },
      { "name": "Epoch", "type": "int64", "versions": "2+", "taggedVersions": "2+", "tag": 1, "default": "-1" }
    ]}
  ]
}`;

test('generator: commonStructs, fields turning tagged, uint16/float64, field flexibleVersions', async (t) => {
  const pkg = fileURLToPath(PACKAGE_DIR);
  const dir = mkdtempSync(join(tmpdir(), 'kafka-protocol-synthetic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'schemas'));
  writeFileSync(join(dir, 'schemas', 'SyntheticRequest.json'), SCHEMA);
  writeFileSync(
    join(dir, 'schemas', 'SyntheticResponse.json'),
    SCHEMA.replace('"request"', '"response"').replace('SyntheticRequest', 'SyntheticResponse'),
  );
  const out = join(dir, 'src', 'generated');
  execFileSync(
    process.execPath,
    [join(pkg, 'scripts', 'generate.mjs'), '--schemas', join(dir, 'schemas'), '--out', out],
    {
      stdio: 'pipe',
    },
  );
  symlinkSync(join(pkg, 'dist', 'wire'), join(dir, 'src', 'wire'));
  for (const f of readdirSync(out).filter((f) => f.endsWith('.ts'))) {
    const js = ts.transpileModule(readFileSync(join(out, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(out, f.replace(/\.ts$/, '.js')), js);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const generated = (await import(pathToFileURL(join(out, 'index.js')).href)) as Record<string, unknown>;
  const lib = (await import(new URL('scripts/lib/schema.mjs', PACKAGE_DIR).href)) as {
    loadSchemas(dir: string): MessageSpec[];
  };
  const specs = lib.loadSchemas(join(dir, 'schemas'));
  assert.equal(specs.length, 2);
  const source = readFileSync(join(out, 'synthetic-request.ts'), 'utf8');
  assert.match(source, /export interface SyntheticRequestPeer \{/);
  assert.match(source, /url: init\.url \?\? 'http:\/\/example\.com\/a\/\/b'/);
  assert.deepEqual(generated.API, {
    Synthetic: { apiKey: 9999, name: 'Synthetic', validVersions: [0, 4], flexibleMin: 2 },
  });
  for (const msg of specs) {
    const { decode, encode } = codecsOf(msg, generated);
    for (let version = 0; version <= 4; version++) {
      for (const opts of [
        { nulls: false, big: false },
        { nulls: true, big: false },
      ]) {
        const { input, expected } = sampleOf(msg, version, opts);
        const w = new KafkaWriter();
        encode(w, version, input);
        const bytes = w.toBuffer();
        const r = new KafkaReader(bytes);
        assert.deepEqual(decode(r, version), expected, `${msg.name} v${version} ${JSON.stringify(opts)}`);
        assert.equal(r.remaining, 0);
      }
    }
  }
  // Legacy keeps its int16 length in flexible versions; Later moves into the tagged fields at v3.
  const m = (generated.createSyntheticRequest as (init: object) => Record<string, unknown>)({
    legacy: 'ab',
    later: 7,
    names: [], // the default is null (nullable from v3), which v2 cannot encode
  });
  const { encode } = codecsOf(specs[0]!, generated);
  const v2 = new KafkaWriter();
  encode(v2, 2, m);
  const v3 = new KafkaWriter();
  encode(v3, 3, m);
  const b2 = v2.toBuffer();
  const b3 = v3.toBuffer();
  assert.ok(b2.includes(Buffer.from([0, 2, 0x61, 0x62, 0, 0, 0, 7])));
  assert.ok(b3.includes(Buffer.from([0, 2, 0x61, 0x62])));
  assert.ok(b3.subarray(-7).equals(Buffer.from([1, 4, 4, 0, 0, 0, 7])));
});
