/**
 * Typed access (for tests) to the schema model of scripts/lib/schema.mjs, the generator's own
 * parser: the tests build their samples from the same schema description the code came from.
 */
export interface VersionRange {
  min: number;
  max: number;
}

export type FieldType =
  | { kind: 'primitive'; name: string }
  | { kind: 'struct'; struct: StructSpec }
  | { kind: 'array'; element: FieldType };

export interface FieldSpec {
  name: string;
  camel: string;
  versions: VersionRange | null;
  nullableVersions: VersionRange | null;
  taggedVersions: VersionRange | null;
  tag?: number;
  default?: string;
  type: FieldType;
}

export interface StructSpec {
  name: string;
  fields: FieldSpec[];
}

export interface MessageSpec {
  name: string;
  type: 'request' | 'response' | 'header';
  apiKey?: number;
  validVersions: VersionRange;
  flexibleVersions: VersionRange | null;
  root: StructSpec;
}

interface SchemaLib {
  loadSchemas(dir: string): MessageSpec[];
}

/** The package directory (tests run from dist/ or dist/test-support/). */
export const PACKAGE_DIR = new URL('../../', import.meta.url);

export async function loadMessageSpecs(): Promise<MessageSpec[]> {
  const lib = (await import(new URL('scripts/lib/schema.mjs', PACKAGE_DIR).href)) as SchemaLib;
  return lib.loadSchemas(new URL('schemas/', PACKAGE_DIR).pathname);
}

export function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range.min && version <= range.max;
}

export function overlaps(a: VersionRange | null, b: VersionRange | null): boolean {
  return a !== null && b !== null && Math.max(a.min, b.min) <= Math.min(a.max, b.max);
}
