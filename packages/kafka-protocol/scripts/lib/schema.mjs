// Reads Kafka's JSON message schemas (JSON with `//` comments) into a normalised model that the
// code emitter and the tests share. Plain Node ESM, no dependencies.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PRIMITIVES = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'int64',
  'float64',
  'string',
  'bytes',
  'records',
  'uuid',
]);

/** Removes `//` and `/* *\/` comments outside string literals, keeping line breaks. */
export function stripComments(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated comment');
      out += text.slice(i, end + 2).replace(/[^\n]/g, '');
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** A version range: `{ min, max }` (max Infinity for "N+"), or null for "none". */
export function parseVersions(spec, what) {
  if (spec === undefined) return null;
  const s = String(spec).trim();
  if (s === 'none' || s === '') return null;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number.POSITIVE_INFINITY };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  m = /^(\d+)$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`${what}: bad version range ${JSON.stringify(spec)}`);
}

export function intersect(a, b) {
  if (a === null || b === null) return null;
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min <= max ? { min, max } : null;
}

export function contains(range, version) {
  return range !== null && version >= range.min && version <= range.max;
}

export function lowerFirst(name) {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * The type of a field: `{ kind: 'primitive', name }`, `{ kind: 'struct', struct }` or
 * `{ kind: 'array', element }` where element is a primitive or struct type.
 */
function parseType(typeName, field, ctx) {
  if (typeName.startsWith('[]')) {
    const element = parseType(typeName.slice(2), field, ctx);
    if (element.kind === 'array') throw new Error(`${ctx.where}: nested arrays are not supported`);
    return { kind: 'array', element };
  }
  if (PRIMITIVES.has(typeName)) {
    if (field.fields) throw new Error(`${ctx.where}: primitive ${typeName} with fields`);
    return { kind: 'primitive', name: typeName };
  }
  if (!/^[A-Z][A-Za-z0-9]*$/.test(typeName)) throw new Error(`${ctx.where}: unknown type ${typeName}`);
  return { kind: 'struct', struct: ctx.structRef(typeName, field.fields) };
}

/** Parses one schema file's text into a message model. */
export function parseSchema(text, file = 'schema') {
  const raw = JSON.parse(stripComments(text));
  const name = raw.name;
  const validVersions = parseVersions(raw.validVersions, `${file} validVersions`);
  if (validVersions === null) throw new Error(`${file}: no valid versions`);
  const flexibleVersions = parseVersions(raw.flexibleVersions, `${file} flexibleVersions`);
  const structs = [];
  const byName = new Map();
  const common = new Map((raw.commonStructs ?? []).map((s) => [s.name, s]));

  const ctx = {
    where: file,
    structRef(typeName, inlineFields) {
      const existing = byName.get(typeName);
      if (existing) {
        if (inlineFields && !existing.common) throw new Error(`${file}: struct ${typeName} defined twice`);
        return existing;
      }
      const commonDef = common.get(typeName);
      if (!inlineFields && !commonDef) throw new Error(`${file}: struct ${typeName} has no fields`);
      const struct = { name: typeName, common: !inlineFields, fields: [], path: '' };
      byName.set(typeName, struct);
      structs.push(struct);
      struct.fields = parseFields(inlineFields ?? commonDef.fields, `${file} ${typeName}`);
      return struct;
    },
  };

  function parseFields(list, where) {
    return list.map((f) => {
      const fctx = { ...ctx, where: `${where}.${f.name}` };
      const versions = parseVersions(f.versions, `${fctx.where} versions`);
      const field = {
        name: f.name,
        camel: lowerFirst(f.name),
        about: f.about ?? '',
        versions,
        nullableVersions: parseVersions(f.nullableVersions, `${fctx.where} nullableVersions`),
        taggedVersions: parseVersions(f.taggedVersions, `${fctx.where} taggedVersions`),
        tag: f.tag,
        // A field-level "flexibleVersions" overrides the message's (RequestHeader.ClientId: "none").
        flexibleVersions:
          'flexibleVersions' in f
            ? parseVersions(f.flexibleVersions, `${fctx.where} flexibleVersions`)
            : undefined,
        default: f.default === undefined ? undefined : String(f.default),
        ignorable: f.ignorable === true,
        type: parseType(f.type, f, fctx),
      };
      if ((field.tag === undefined) !== (field.taggedVersions === null)) {
        throw new Error(`${fctx.where}: tag and taggedVersions go together`);
      }
      return field;
    });
  }

  const root = { name, common: false, fields: [], path: '' };
  byName.set(name, root);
  structs.unshift(root);
  root.fields = parseFields(raw.fields ?? [], `${file} ${name}`);
  return {
    name,
    type: raw.type,
    apiKey: raw.apiKey,
    validVersions,
    flexibleVersions,
    root,
    structs,
  };
}

/** Reads every `*.json` schema in `dir`, sorted by name. */
export function loadSchemas(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => parseSchema(readFileSync(join(dir, f), 'utf8'), f));
}

/** The struct type of a field, if it is a struct or an array of structs. */
export function structOf(type) {
  if (type.kind === 'struct') return type.struct;
  if (type.kind === 'array' && type.element.kind === 'struct') return type.element.struct;
  return undefined;
}

/** Whether a field is nullable in any version it exists in. */
export function everNullable(field) {
  return intersect(field.versions, field.nullableVersions) !== null;
}
