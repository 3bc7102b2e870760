// Naming, TypeScript types, defaults and version conditions shared by the decoder and encoder
// emitters. Plain Node ESM, no dependencies.
import { everNullable, intersect, structOf } from './schema.mjs';

const RESERVED = new Set(
  (
    'r w m e i n a t version flexible tag end tagCount init size break case catch class const continue ' +
    'debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with yield let ' +
    'static implements interface package private protected public await'
  ).split(' '),
);

/** `ProduceRequest` -> `produce-request`. */
export function fileNameOf(messageName) {
  return messageName.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Header messages get a `Data` suffix on their codec functions (the plain names are the helpers in headers.ts). */
export function codecSuffix(msg) {
  return msg.type === 'header' ? `${msg.name}Data` : msg.name;
}

/**
 * Annotates every struct of `msg` with its TypeScript name, the version range it is used in
 * (`ctx`) and the path used in error messages (`label`).
 */
export function annotate(msg) {
  for (const s of msg.structs) {
    s.tsName = s === msg.root || s.name.startsWith(msg.name) ? s.name : `${msg.name}${s.name}`;
    s.ctx = null;
    s.label = s.common ? s.name : '';
    s.needsIsDefault = false;
  }
  msg.root.ctx = msg.validVersions;
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of msg.structs) {
      if (s.ctx === null) continue;
      for (const f of s.fields) {
        const child = structOf(f.type);
        if (!child) continue;
        const used = intersect(s.ctx, f.versions);
        if (used === null) continue;
        const hull =
          child.ctx === null
            ? used
            : { min: Math.min(child.ctx.min, used.min), max: Math.max(child.ctx.max, used.max) };
        if (child.ctx === null || hull.min !== child.ctx.min || hull.max !== child.ctx.max) {
          child.ctx = hull;
          changed = true;
        }
        if (!child.common && child.label === '') child.label = s.label ? `${s.label}.${f.camel}` : f.camel;
        if (f.taggedVersions && f.type.kind === 'struct') markIsDefault(child);
      }
    }
  }
  const tsNames = new Set();
  for (const s of msg.structs) {
    if (tsNames.has(s.tsName)) throw new Error(`${msg.name}: duplicate struct name ${s.tsName}`);
    tsNames.add(s.tsName);
  }
}

function markIsDefault(struct) {
  if (struct.needsIsDefault) return;
  struct.needsIsDefault = true;
  for (const f of struct.fields) if (f.type.kind === 'struct') markIsDefault(f.type.struct);
}

/** The label of a field in error messages: its path from the message root. */
export function labelOf(struct, field) {
  return struct.label ? `${struct.label}.${field.camel}` : field.camel;
}

export function localName(field) {
  return RESERVED.has(field.camel) ? `${field.camel}Value` : field.camel;
}

/** `version >= 3 && version <= 7` for `range` within `ctx`; null when it covers ctx; 'false' when disjoint. */
export function condExpr(range, ctx) {
  const i = intersect(range, ctx);
  if (i === null) return 'false';
  const parts = [];
  if (i.min > ctx.min) parts.push(`version >= ${i.min}`);
  if (i.max < ctx.max) parts.push(`version <= ${i.max}`);
  return parts.length === 0 ? null : parts.join(' && ');
}

export function sameRange(a, b) {
  if (a === null || b === null) return a === b;
  return a.min === b.min && a.max === b.max;
}

/**
 * The expression telling whether `field` uses compact encodings within `range`: 'true', 'false',
 * 'flexible' (the function's variable) or an explicit condition for a field-level override.
 */
export function flexOf(msg, field, range) {
  const own = field.flexibleVersions !== undefined;
  const flex = own ? field.flexibleVersions : msg.flexibleVersions;
  const cond = condExpr(flex, range);
  if (cond === null) return 'true';
  if (cond === 'false') return 'false';
  return own ? `(${cond})` : 'flexible';
}

/** Versions in which the field sits among the regular (non-tagged) fields. */
export function regularRange(field) {
  if (!field.taggedVersions) return field.versions;
  const t = field.taggedVersions;
  const v = field.versions;
  if (v === null || (t.min <= v.min && t.max >= v.max)) return null;
  if (t.max >= v.max) return { min: v.min, max: t.min - 1 };
  throw new Error(`${field.name}: tagged versions must be a suffix of its versions`);
}

function isRecordsOut(msg) {
  return msg.type === 'response';
}

function elementTs(msg, type) {
  if (type.kind === 'struct') return type.struct.tsName;
  switch (type.name) {
    case 'bool':
      return 'boolean';
    case 'int64':
      return 'bigint';
    case 'string':
      return 'string';
    case 'bytes':
    case 'uuid':
      return 'Buffer';
    case 'records':
      // Responses are encoded by the broker, which may send several stored batches back to back.
      return isRecordsOut(msg) ? 'RecordsData' : 'Buffer';
    default:
      return 'number';
  }
}

export function tsTypeOf(msg, field) {
  const t = field.type;
  const base = t.kind === 'array' ? `${elementTs(msg, t.element)}[]` : elementTs(msg, t);
  return everNullable(field) ? `${base} | null` : base;
}

function quote(s) {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function parseIntLiteral(d, field) {
  const neg = d.startsWith('-');
  const body = neg ? d.slice(1) : d;
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(body)) throw new Error(`${field.name}: bad integer default ${d}`);
  return { neg, body };
}

/** The TypeScript expression of the field's default value (fresh object for buffers and structs). */
export function defaultExpr(field) {
  const t = field.type;
  const d = field.default;
  const nullable = everNullable(field);
  if (d === 'null') {
    if (!nullable) throw new Error(`${field.name}: default null on a non-nullable field`);
    return 'null';
  }
  if (t.kind === 'array') return nullable ? 'null' : '[]';
  if (t.kind === 'struct') {
    if (nullable) throw new Error(`${field.name}: nullable structs are not supported`);
    return `create${t.struct.tsName}()`;
  }
  switch (t.name) {
    case 'bool':
      if (d !== undefined && d !== 'true' && d !== 'false')
        throw new Error(`${field.name}: bad bool default`);
      return d ?? 'false';
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32': {
      if (d === undefined || d === '') return '0';
      const { neg, body } = parseIntLiteral(d, field);
      return `${neg ? '-' : ''}${Number(body)}`;
    }
    case 'int64': {
      if (d === undefined || d === '') return '0n';
      const { neg, body } = parseIntLiteral(d, field);
      return `${neg ? '-' : ''}${BigInt(body)}n`;
    }
    case 'float64':
      return d === undefined || d === '' ? '0' : String(Number(d));
    case 'string':
      if (d !== undefined) return quote(d);
      return nullable ? 'null' : "''";
    case 'bytes':
    case 'records':
      return nullable ? 'null' : 'EMPTY_BYTES';
    case 'uuid':
      return 'ZERO_UUID';
    default:
      throw new Error(`${field.name}: no default for ${t.name}`);
  }
}

/** A condition true when `v` differs from the field's default (tagged fields are sent only then). */
export function nonDefaultExpr(field, v) {
  const d = defaultExpr(field);
  const t = field.type;
  if (d === 'null') return `${v} !== null`;
  if (t.kind === 'array') return `${v}.length !== 0`;
  if (t.kind === 'struct') return `!is${t.struct.tsName}Default(${v})`;
  if (t.name === 'uuid') return `!isZeroUuid(${v})`;
  if (t.name === 'bytes' || t.name === 'records') return `${v}.length !== 0`;
  return `${v} !== ${d}`;
}

/** Reader call for one value of primitive `type` (not null). */
export function readPrimitive(name, flex, label, nullable) {
  const l = quote(label);
  switch (name) {
    case 'string':
      return nullable ? `r.nullableString(${flex}, ${l})` : `r.string(${flex}, ${l})`;
    case 'bytes':
    case 'records':
      return nullable ? `r.nullableBytes(${flex}, ${l})` : `r.bytes(${flex}, ${l})`;
    default:
      return `r.${name}(${l})`;
  }
}

/** Writer call for one value of primitive `type`. */
export function writePrimitive(name, flex, v, nullable) {
  switch (name) {
    case 'string':
      return nullable ? `w.nullableString(${flex}, ${v});` : `w.string(${flex}, ${v});`;
    case 'bytes':
      return nullable ? `w.nullableBytes(${flex}, ${v});` : `w.bytes(${flex}, ${v});`;
    case 'records':
      return `w.records(${flex}, ${v});`;
    default:
      return `w.${name}(${v});`;
  }
}

export { quote };

/**
 * A function signature as biome formats it: on one line when it fits the line width, otherwise
 * one parameter per line with trailing commas.
 */
export function signature(head, params, ret, width = 110) {
  const one = `${head}(${params.join(', ')}): ${ret} {`;
  if (one.length <= width) return [one];
  return [`${head}(`, ...params.map((p) => `  ${p},`), `): ${ret} {`];
}
