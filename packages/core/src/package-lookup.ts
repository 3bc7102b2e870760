/**
 * Finds the file an `import` of a bare package specifier would load if it were written in a module
 * of a given directory, the way Node's ESM loader resolves it: the `node_modules` folders at and
 * above that directory, then the package's `exports` matched with the `node`, `import` and
 * `default` conditions (or `main`, or `index.js`, when it has no `exports`).
 *
 * Node 20 offers no public way to run its own ESM resolver from another directory
 * (`import.meta.resolve` takes a parent only behind a flag, and `createRequire().resolve` matches
 * `require` conditions, which an ESM-only package may not export), hence this small resolver.
 * It covers what package entry points use: exact subpaths, `*` patterns, nested conditions and
 * fallback arrays; not the `imports` field or self-references.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The result of looking a package up from a directory. */
export type PackageLookup =
  /** The package folder exists; `file` is the module an `import` of the specifier loads. */
  | { readonly found: true; readonly file: string }
  /** No folder of that name in any of `searched`, the `node_modules` folders in lookup order. */
  | { readonly found: false; readonly searched: readonly string[] };

/** The conditions Node 20's ESM loader matches in `exports`; every other condition is skipped. */
const IMPORT_CONDITIONS: ReadonlySet<string> = new Set(['node', 'import', 'default']);

/** `name` and `./subpath` of a bare specifier (`pkg`, `pkg/sub`, `@scope/pkg/sub`), or undefined. */
export function splitPackageSpecifier(specifier: string): { name: string; subpath: string } | undefined {
  const m = /^((?:@[^/\\%]+\/)?[^./\\%@][^/\\%]*)(\/[^\\%]*)?$/.exec(specifier);
  if (!m || specifier.includes(':')) return undefined;
  return { name: m[1] as string, subpath: `.${m[2] ?? ''}` };
}

/**
 * Looks `specifier` (a bare package specifier, see `splitPackageSpecifier`) up from `directory`.
 * Throws an `Error` when the package is there but exports no entry for the specifier.
 */
export function lookUpPackage(specifier: string, directory: string): PackageLookup {
  const parts = splitPackageSpecifier(specifier);
  if (!parts) throw new Error(`"${specifier}" is not a package name`);
  const searched: string[] = [];
  for (const nodeModules of nodeModulesFolders(directory)) {
    searched.push(nodeModules);
    const packageDir = path.join(nodeModules, parts.name);
    if (!isDirectory(packageDir)) continue;
    const file = packageEntry(packageDir, parts.subpath);
    if (file === undefined) {
      throw new Error(
        `package ${packageDir} has no entry for "${specifier}" to import (conditions: ${[...IMPORT_CONDITIONS].join(', ')})`,
      );
    }
    return { found: true, file };
  }
  return { found: false, searched };
}

/** `<dir>/node_modules` for `directory` and each of its ancestors, nearest first. */
function nodeModulesFolders(directory: string): string[] {
  const folders: string[] = [];
  for (let dir = path.resolve(directory); ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') folders.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) return folders;
  }
}

function packageEntry(packageDir: string, subpath: string): string | undefined {
  const manifest = readManifest(packageDir);
  if (manifest.exports !== undefined && manifest.exports !== null) {
    const target = exportsTarget(manifest.exports, subpath);
    return target === undefined ? undefined : path.join(packageDir, target);
  }
  if (subpath !== '.') return path.join(packageDir, subpath);
  const main = typeof manifest.main === 'string' ? [manifest.main, `${manifest.main}.js`] : [];
  const candidates = [...main, ...main.map((m) => path.join(m, 'index.js')), 'index.js'];
  return candidates.map((c) => path.join(packageDir, c)).find(isFile);
}

function readManifest(packageDir: string): { exports?: unknown; main?: unknown } {
  let text: string;
  try {
    text = readFileSync(path.join(packageDir, 'package.json'), 'utf8');
  } catch {
    return {};
  }
  const manifest: unknown = JSON.parse(text);
  return typeof manifest === 'object' && manifest !== null ? manifest : {};
}

/** The `./`-relative target `exports` maps `subpath` to for an import, or undefined. */
function exportsTarget(exports: unknown, subpath: string): string | undefined {
  const map = isSubpathMap(exports) ? exports : { '.': exports };
  if (Object.hasOwn(map, subpath) && !subpath.includes('*'))
    return conditionalTarget(map[subpath]) ?? undefined;
  // A `*` pattern: the longest part before the `*` wins, then the longest key (as Node orders them).
  const [best] = Object.keys(map)
    .map((key) => ({ key, star: key.indexOf('*') }))
    .filter(({ key, star }) => star >= 0 && key.indexOf('*', star + 1) < 0)
    .filter(
      ({ key, star }) =>
        subpath.length >= key.length &&
        subpath.startsWith(key.slice(0, star)) &&
        subpath.endsWith(key.slice(star + 1)),
    )
    .sort((a, b) => b.star - a.star || b.key.length - a.key.length);
  if (!best) return undefined;
  const match = subpath.slice(best.star, subpath.length - (best.key.length - best.star - 1));
  return conditionalTarget(map[best.key], match) ?? undefined;
}

function isSubpathMap(exports: unknown): exports is Record<string, unknown> {
  if (typeof exports !== 'object' || exports === null || Array.isArray(exports)) return false;
  return Object.keys(exports).some((k) => k.startsWith('.'));
}

/**
 * Resolves a target: a `./` path (with `*` replaced by `match`), a fallback array, or a conditions
 * object. `null` means "not exported" and stops the search; `undefined` means "no match here".
 */
function conditionalTarget(target: unknown, match?: string): string | null | undefined {
  if (typeof target === 'string') {
    if (!target.startsWith('./') || target.split(/[/\\]/).some((s) => s === '..' || s === 'node_modules'))
      return undefined;
    return match === undefined ? target : target.replaceAll('*', match);
  }
  if (target === null) return null;
  if (Array.isArray(target)) {
    for (const t of target) {
      const resolved = conditionalTarget(t, match);
      if (resolved !== undefined) return resolved;
    }
    return undefined;
  }
  if (typeof target === 'object') {
    for (const [condition, value] of Object.entries(target)) {
      if (!IMPORT_CONDITIONS.has(condition)) continue;
      const resolved = conditionalTarget(value, match);
      if (resolved !== undefined) return resolved;
    }
  }
  return undefined;
}

function isDirectory(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function isFile(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}
