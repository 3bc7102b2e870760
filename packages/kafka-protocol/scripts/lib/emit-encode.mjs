// Emits one encoder function per struct (writes in wire order, version checks as plain `if`s,
// tagged fields only when they differ from their default), plus `create<Struct>` factories and
// the `is<Struct>Default` checks tagged struct fields need. Plain Node ESM, no dependencies.

import {
  condExpr,
  defaultExpr,
  flexOf,
  labelOf,
  nonDefaultExpr,
  quote,
  regularRange,
  sameRange,
  signature,
  tsTypeOf,
  writePrimitive,
} from './model.mjs';
import { everNullable, intersect } from './schema.mjs';

function nullability(field, range) {
  const n = intersect(field.nullableVersions, range);
  if (n === null) return 'never';
  if (sameRange(n, range)) return 'always';
  return condExpr(field.nullableVersions, range);
}

function elementWrite(field, flex, v) {
  const el = field.type.element;
  if (el.kind === 'struct') return `write${el.struct.tsName}(w, version, ${v});`;
  return writePrimitive(el.name, flex, v, false);
}

/** Writes `m.<field>` with the given nullability. */
function write(msg, struct, field, range, nullable, out, ind) {
  const flex = flexOf(msg, field, range);
  const v = `m.${field.camel}`;
  const t = field.type;
  if (!nullable && everNullable(field)) {
    out.push(`${ind}if (${v} === null) {`);
    out.push(`${ind}  throw nullNotAllowed(${quote(labelOf(struct, field))}, version);`, `${ind}}`);
  }
  if (t.kind === 'struct') {
    out.push(`${ind}write${t.struct.tsName}(w, version, ${v});`);
  } else if (t.kind === 'primitive') {
    out.push(`${ind}${writePrimitive(t.name, flex, v, nullable)}`);
  } else {
    const loop = (i) => [
      `${i}w.arrayLength(${flex}, ${v}.length);`,
      `${i}for (const e of ${v}) {`,
      `${i}  ${elementWrite(field, flex, 'e')}`,
      `${i}}`,
    ];
    if (nullable) {
      out.push(`${ind}if (${v} === null) {`, `${ind}  w.nullArray(${flex});`, `${ind}} else {`);
      out.push(...loop(`${ind}  `), `${ind}}`);
    } else {
      out.push(...loop(ind));
    }
  }
}

function writeByVersion(msg, struct, field, range, out, ind) {
  const nl = nullability(field, range);
  if (nl === 'always' || nl === 'never') {
    write(msg, struct, field, range, nl === 'always', out, ind);
    return;
  }
  out.push(`${ind}if (${nl}) {`);
  write(msg, struct, field, range, true, out, `${ind}  `);
  out.push(`${ind}} else {`);
  write(msg, struct, field, range, false, out, `${ind}  `);
  out.push(`${ind}}`);
}

/** Emits `function write<Struct>(w, version, m): void`. */
export function emitEncoder(msg, struct) {
  const ctx = struct.ctx;
  const flexRange = intersect(ctx, msg.flexibleVersions);
  const body = [];
  const tagged = [];
  for (const field of struct.fields) {
    const present = intersect(ctx, field.versions);
    if (present === null) continue;
    const tagRange = intersect(flexRange, field.taggedVersions);
    if (tagRange) tagged.push({ field, range: tagRange });
    const regular = intersect(ctx, regularRange(field));
    if (!regular) continue;
    const cond = condExpr(regular, ctx);
    if (cond === null) {
      writeByVersion(msg, struct, field, regular, body, '  ');
    } else {
      body.push(`  if (${cond}) {`);
      writeByVersion(msg, struct, field, regular, body, '    ');
      body.push('  }');
    }
  }
  if (flexRange) emitTaggedWrite(msg, struct, ctx, flexRange, tagged, body);
  const uses = (name) => body.some((l) => new RegExp(`\\b${name}\\b`).test(l));
  const flexDecl = uses('flexible');
  const params = [
    uses('w') ? 'w: KafkaWriter' : '_w: KafkaWriter',
    flexDecl || uses('version') ? 'version: number' : '_version: number',
    uses('m') ? `m: ${struct.tsName}` : `_m: ${struct.tsName}`,
  ];
  const out = signature(`function write${struct.tsName}`, params, 'void');
  if (flexDecl) out.push(`  const flexible = ${condExpr(msg.flexibleVersions, ctx)};`);
  out.push(...body, '}');
  return out;
}

function emitTaggedWrite(msg, struct, ctx, flexRange, tagged, body) {
  const always = sameRange(flexRange, ctx);
  const ind = always ? '  ' : '    ';
  if (!always) body.push('  if (flexible) {');
  if (tagged.length === 0) {
    body.push(`${ind}w.uvarint(0);`);
  } else {
    const byTag = [...tagged].sort((a, b) => a.field.tag - b.field.tag);
    for (const { field, range } of byTag) {
      const cond = condExpr(range, flexRange);
      const set = nonDefaultExpr(field, `m.${field.camel}`);
      body.push(`${ind}const tag${field.tag} = ${cond === null ? set : `${cond} && ${set}`};`);
    }
    body.push(`${ind}w.uvarint(${byTag.map(({ field }) => `Number(tag${field.tag})`).join(' + ')});`);
    for (const { field, range } of byTag) {
      body.push(`${ind}if (tag${field.tag}) {`, `${ind}  w.uvarint(${field.tag});`);
      body.push(`${ind}  const size = w.beginSized();`);
      writeByVersion(msg, struct, field, range, body, `${ind}  `);
      body.push(`${ind}  w.endSized(size);`, `${ind}}`);
    }
  }
  if (!always) body.push('  }');
}

/** Emits `export function create<Struct>(init?: Partial<Struct>): Struct` (defaults for unset fields). */
export function emitFactory(struct) {
  const t = struct.tsName;
  if (struct.fields.length === 0) {
    return [
      ...signature(`export function create${t}`, [`_init: Partial<${t}> = {}`], t),
      '  return {};',
      '}',
    ];
  }
  const out = [`/** A ${t} with the given fields and every other field at its default. */`];
  out.push(...signature(`export function create${t}`, [`init: Partial<${t}> = {}`], t), '  return {');
  for (const f of struct.fields) {
    const d = defaultExpr(f);
    const v = `init.${f.camel}`;
    out.push(
      everNullable(f) ? `    ${f.camel}: ${v} === undefined ? ${d} : ${v},` : `    ${f.camel}: ${v} ?? ${d},`,
    );
  }
  out.push('  };', '}');
  return out;
}

/** Emits `function is<Struct>Default(m): boolean`: every field equals its default. */
export function emitIsDefault(struct) {
  const out = signature(`function is${struct.tsName}Default`, [`m: ${struct.tsName}`], 'boolean');
  for (const f of struct.fields) {
    out.push(`  if (${nonDefaultExpr(f, `m.${f.camel}`)}) {`, '    return false;', '  }');
  }
  out.push('  return true;', '}');
  return out;
}

export function emitInterface(msg, struct) {
  const out = [];
  const doc =
    struct !== msg.root
      ? struct.name
      : msg.apiKey === undefined
        ? msg.name
        : `${msg.name} (API key ${msg.apiKey})`;
  out.push(`/** ${doc}. */`, `export interface ${struct.tsName} {`);
  for (const f of struct.fields) {
    const text = f.about.trim();
    const sentence = text === '' || /[.!?]$/.test(text) ? text : `${text}.`;
    const about = `${sentence} Versions: ${rangeText(f.versions)}${f.taggedVersions ? ` (tag ${f.tag})` : ''}.`;
    out.push(`  /** ${about.replace(/\*\//g, '*\\/')} */`, `  ${f.camel}: ${tsTypeOf(msg, f)};`);
  }
  out.push('}');
  return out;
}

export function rangeText(r) {
  if (r === null) return 'none';
  if (r.max === Number.POSITIVE_INFINITY) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}
