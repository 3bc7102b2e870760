#!/usr/bin/env node
// Generates src/generated/*.ts from the Kafka message schemas in schemas/.
// Usage: node scripts/generate.mjs [--out DIR] [--schemas DIR]
// Plain Node ESM, no dependencies. The output is committed; a test regenerates it into a
// temporary directory and compares, so edit the generator, never the generated files.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitApiTable, emitIndexFile, emitMessageFile, longLines } from './lib/emit-file.mjs';
import { fileNameOf } from './lib/model.mjs';
import { parseSchema } from './lib/schema.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : fallback;
}

const schemasDir = option('--schemas', join(pkg, 'schemas'));
const outDir = option('--out', join(pkg, 'src', 'generated'));

const sources = readdirSync(schemasDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const files = new Map();
const messages = [];
for (const source of sources) {
  const msg = parseSchema(readFileSync(join(schemasDir, source), 'utf8'), source);
  messages.push(msg);
  files.set(`${fileNameOf(msg.name)}.ts`, emitMessageFile(msg, source));
}
files.set('api-table.ts', emitApiTable(messages));
files.set('index.ts', emitIndexFile(messages));

mkdirSync(outDir, { recursive: true });
for (const f of readdirSync(outDir)) {
  if (f.endsWith('.ts') && !files.has(f)) rmSync(join(outDir, f));
}
const long = [...files].flatMap(([name, text]) => longLines(name, text));
if (long.length > 0) {
  console.error(`lines longer than biome's width (the generator must wrap them):\n${long.join('\n')}`);
  process.exit(1);
}
for (const [name, text] of files) writeFileSync(join(outDir, name), text);
console.log(`generated ${files.size} files from ${sources.length} schemas into ${outDir}`);
