// Emits one decoder function per struct: straight-line reads in wire order, version checks as
// plain `if`s, tagged fields in a `switch` on the tag. Plain Node ESM, no dependencies.

import {
  condExpr,
  defaultExpr,
  flexOf,
  labelOf,
  localName,
  quote,
  readPrimitive,
  regularRange,
  sameRange,
  signature,
  tsTypeOf,
} from './model.mjs';
import { intersect } from './schema.mjs';

/** Nullability of `field` across `range`: 'always', 'never' or a condition for the nullable versions. */
function nullability(field, range) {
  const n = intersect(field.nullableVersions, range);
  if (n === null) return 'never';
  if (sameRange(n, range)) return 'always';
  return condExpr(field.nullableVersions, range);
}

function elementRead(field, flex, label) {
  const el = field.type.element;
  if (el.kind === 'struct') return `read${el.struct.tsName}(r, version)`;
  return readPrimitive(el.name, flex, label, false);
}

function elementTs(field, msg) {
  return tsTypeOf(msg, { ...field, type: field.type.element, nullableVersions: null });
}

/** Statements assigning the field's value (read with the given nullability) to `target`. */
function assign(msg, field, range, nullable, target, out, ind) {
  const flex = flexOf(msg, field, range);
  const label = labelOf(msg.current, field);
  const t = field.type;
  if (t.kind === 'struct') {
    out.push(`${ind}${target} = read${t.struct.tsName}(r, version);`);
  } else if (t.kind === 'primitive') {
    out.push(`${ind}${target} = ${readPrimitive(t.name, flex, label, nullable)};`);
  } else {
    const el = elementTs(field, msg);
    const read = elementRead(field, flex, label);
    const loop = (i) => [
      `${i}const a: ${el}[] = [];`,
      `${i}for (let i = 0; i < n; i++) {`,
      `${i}  a.push(${read});`,
      `${i}}`,
      `${i}${target} = a;`,
    ];
    if (nullable) {
      out.push(`${ind}const n = r.nullableArrayLength(${flex}, ${quote(label)});`);
      out.push(`${ind}if (n < 0) {`, `${ind}  ${target} = null;`, `${ind}} else {`);
      out.push(...loop(`${ind}  `), `${ind}}`);
    } else {
      out.push(`${ind}const n = r.arrayLength(${flex}, ${quote(label)});`);
      out.push(...loop(ind));
    }
  }
}

/** Assigns with the nullability the version allows, branching when it varies within `range`. */
function assignByVersion(msg, field, range, target, out, ind) {
  const nl = nullability(field, range);
  if (nl === 'always' || nl === 'never') {
    assign(msg, field, range, nl === 'always', target, out, ind);
    return;
  }
  out.push(`${ind}if (${nl}) {`);
  assign(msg, field, range, true, target, out, `${ind}  `);
  out.push(`${ind}} else {`);
  assign(msg, field, range, false, target, out, `${ind}  `);
  out.push(`${ind}}`);
}

/** A field read unconditionally with fixed nullability: `const x = ...`. */
function constRead(msg, field, range, local, out) {
  const flex = flexOf(msg, field, range);
  const label = labelOf(msg.current, field);
  const t = field.type;
  const nullable = nullability(field, range) === 'always';
  if (t.kind === 'struct') {
    out.push(`  const ${local} = read${t.struct.tsName}(r, version);`);
  } else if (t.kind === 'primitive') {
    out.push(`  const ${local} = ${readPrimitive(t.name, flex, label, nullable)};`);
  } else if (!nullable) {
    const el = elementTs(field, msg);
    out.push(`  const ${local}Count = r.arrayLength(${flex}, ${quote(label)});`);
    out.push(`  const ${local}: ${el}[] = [];`);
    out.push(`  for (let i = 0; i < ${local}Count; i++) {`);
    out.push(`    ${local}.push(${elementRead(field, flex, label)});`, '  }');
  } else {
    const el = elementTs(field, msg);
    out.push(`  const ${local}Count = r.nullableArrayLength(${flex}, ${quote(label)});`);
    out.push(`  let ${local}: ${el}[] | null = null;`);
    out.push(`  if (${local}Count >= 0) {`, `    ${local} = [];`);
    out.push(`    for (let i = 0; i < ${local}Count; i++) {`);
    out.push(`      ${local}.push(${elementRead(field, flex, label)});`, '    }', '  }');
  }
}

/** Emits `function read<Struct>(r, version): <Struct>`. */
export function emitDecoder(msg, struct) {
  msg.current = struct;
  const ctx = struct.ctx;
  const flexRange = intersect(ctx, msg.flexibleVersions);
  const body = [];
  const tagged = [];
  const values = [];
  for (const field of struct.fields) {
    const present = intersect(ctx, field.versions);
    const local = localName(field);
    if (present === null) {
      values.push(`    ${field.camel}: ${defaultExpr(field)},`);
      continue;
    }
    values.push(local === field.camel ? `    ${field.camel},` : `    ${field.camel}: ${local},`);
    const regular = intersect(ctx, regularRange(field));
    const tagRange = intersect(flexRange, field.taggedVersions);
    if (tagRange) tagged.push({ field, range: tagRange, local });
    const fixedNulls = regular && ['always', 'never'].includes(nullability(field, regular));
    if (regular && sameRange(regular, ctx) && !tagRange && fixedNulls) {
      constRead(msg, field, regular, local, body);
      continue;
    }
    body.push(`  let ${local}: ${tsTypeOf(msg, field)} = ${defaultExpr(field)};`);
    if (!regular) continue;
    const cond = condExpr(regular, ctx);
    if (cond === null) {
      assignByVersion(msg, field, regular, local, body, '  ');
    } else {
      body.push(`  if (${cond}) {`);
      assignByVersion(msg, field, regular, local, body, '    ');
      body.push('  }');
    }
  }
  if (flexRange) emitTaggedRead(msg, struct, ctx, flexRange, tagged, body);
  const out = [];
  const uses = (name) => body.some((l) => new RegExp(`\\b${name}\\b`).test(l));
  const flexDecl = body.some((l) => /\bflexible\b/.test(l));
  const rName = uses('r') ? 'r' : '_r';
  const needsVersion = flexDecl || uses('version');
  const params = [`${rName}: KafkaReader`, `${needsVersion ? '' : '_'}version: number`];
  out.push(...signature(`function read${struct.tsName}`, params, struct.tsName));
  if (flexDecl) out.push(`  const flexible = ${condExpr(msg.flexibleVersions, ctx)};`);
  out.push(...body);
  if (values.length === 0) out.push('  return {};');
  else out.push('  return {', ...values, '  };');
  out.push('}');
  return out;
}

function emitTaggedRead(msg, struct, ctx, flexRange, tagged, body) {
  const label = quote(struct.label ? `${struct.label} (tagged fields)` : '(tagged fields)');
  const always = sameRange(flexRange, ctx);
  const ind = always ? '  ' : '    ';
  if (!always) body.push('  if (flexible) {');
  if (tagged.length === 0) {
    body.push(`${ind}r.skipTaggedFields(${label});`);
  } else {
    body.push(`${ind}const tagCount = r.uvarint(${label});`);
    body.push(`${ind}for (let t = 0; t < tagCount; t++) {`);
    body.push(`${ind}  const tag = r.uvarint(${label});`);
    body.push(`${ind}  const end = r.taggedEnd(${label});`);
    body.push(`${ind}  switch (tag) {`);
    const byTag = [...tagged].sort((a, b) => a.field.tag - b.field.tag);
    for (const { field, range, local } of byTag) {
      const i2 = `${ind}      `;
      body.push(`${ind}    case ${field.tag}: {`);
      const cond = condExpr(range, flexRange);
      if (cond === null) {
        assignByVersion(msg, field, range, local, body, i2);
        body.push(`${i2}r.endTagged(end, ${quote(labelOf(struct, field))});`);
      } else {
        body.push(`${i2}if (${cond}) {`);
        assignByVersion(msg, field, range, local, body, `${i2}  `);
        body.push(`${i2}  r.endTagged(end, ${quote(labelOf(struct, field))});`);
        body.push(`${i2}} else {`, `${i2}  r.offset = end;`, `${i2}}`);
      }
      body.push(`${i2}break;`, `${ind}    }`);
    }
    body.push(`${ind}    default:`, `${ind}      r.offset = end;`, `${ind}  }`, `${ind}}`);
  }
  if (!always) body.push('  }');
}
