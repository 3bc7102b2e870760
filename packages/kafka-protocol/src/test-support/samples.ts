import {
  type FieldSpec,
  type FieldType,
  inRange,
  type MessageSpec,
  overlaps,
  type StructSpec,
} from './schema-model.js';

/** How a sample fills its fields: `nulls` sets every field nullable in the version to null; `big` makes records 5000 bytes. */
export interface SampleOptions {
  nulls: boolean;
  big: boolean;
}

/** The value a field decodes to when its version lacks it (the rule documented in the README). */
export function defaultOf(field: FieldSpec): unknown {
  const nullable = overlaps(field.versions, field.nullableVersions);
  const d = field.default;
  if (d === 'null') return null;
  const t = field.type;
  if (t.kind === 'array') return nullable ? null : [];
  if (t.kind === 'struct') return defaultsOf(t.struct);
  switch (t.name) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return BigInt(d ?? '0');
    case 'string':
      return d ?? (nullable ? null : '');
    case 'bytes':
    case 'records':
      return nullable ? null : Buffer.alloc(0);
    case 'uuid':
      return Buffer.alloc(16);
    default:
      return Number(d ?? '0');
  }
}

function defaultsOf(struct: StructSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of struct.fields) out[f.camel] = defaultOf(f);
  return out;
}

/** A sample pair: what to encode at `version`, and what decoding it must give back. */
export interface Sample {
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
}

/**
 * Builds a sample of `msg` for `version` from its schema: every field set (arrays of two, nested
 * structs, tagged fields at non-default values), nullable fields null when `opts.nulls`. Fields the
 * version lacks get values too, which the encoder must skip: they are expected back as defaults.
 */
export function sampleOf(msg: MessageSpec, version: number, opts: SampleOptions): Sample {
  let salt = 0;
  const build = (struct: StructSpec): Sample => {
    const input: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const f of struct.fields) {
      const present = inRange(f.versions, version);
      const useNull = present && opts.nulls && inRange(f.nullableVersions, version);
      const v = useNull ? { input: null, expected: null } : sampleValue(f.type, f, ++salt);
      input[f.camel] = v.input;
      expected[f.camel] = present ? v.expected : defaultOf(f);
    }
    return { input, expected };
  };
  const sampleValue = (t: FieldType, f: FieldSpec, s: number): { input: unknown; expected: unknown } => {
    if (t.kind === 'struct') return build(t.struct);
    if (t.kind === 'array') {
      const a = sampleValue(t.element, f, s);
      const b = sampleValue(t.element, f, s + 1000);
      return { input: [a.input, b.input], expected: [a.expected, b.expected] };
    }
    const p = primitive(t.name, f, s, opts);
    return { input: p, expected: p };
  };
  return build(msg.root);
}

function primitive(name: string, f: FieldSpec, s: number, opts: SampleOptions): unknown {
  switch (name) {
    case 'bool':
      return f.default !== 'true';
    case 'int8':
      return (s % 100) + 1;
    case 'int16':
      return 1000 + s;
    case 'uint16':
      return 60000 + (s % 5000);
    case 'int32':
      return 100000 + s;
    case 'int64':
      return 10n ** 12n + BigInt(s);
    case 'float64':
      return 1.25 + s;
    case 'string':
      return `${f.camel}-é-${s}`;
    case 'bytes':
      return Buffer.from(`bytes-${s}`);
    case 'records':
      return opts.big ? Buffer.alloc(5000, s % 256) : Buffer.from(`records-${s}`);
    case 'uuid':
      return Buffer.alloc(16, (s % 255) + 1);
    default:
      throw new Error(`no sample for ${name}`);
  }
}
