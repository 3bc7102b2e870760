import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { lookUpPackage, splitPackageSpecifier } from './package-lookup.js';

describe('lookUpPackage', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'barge-package-lookup-'));
  const nodeModules = path.join(root, 'node_modules');
  const from = path.join(root, 'a', 'b');
  mkdirSync(from, { recursive: true });
  after(() => rmSync(root, { recursive: true, force: true }));

  const writePackage = (name: string, manifest: Record<string, unknown> | undefined, files: string[]) => {
    const dir = path.join(nodeModules, name);
    mkdirSync(dir, { recursive: true });
    if (manifest) writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), '');
    }
    return dir;
  };
  const fileOf = (specifier: string) => {
    const r = lookUpPackage(specifier, from);
    assert.ok(r.found, `${specifier} not found`);
    return r.file;
  };

  it('matches import conditions in the order the package lists them, nested', () => {
    const dir = writePackage(
      'conds',
      {
        exports: {
          '.': {
            browser: './browser.js',
            node: { require: './n.cjs', import: './n.mjs' },
            default: './d.js',
          },
        },
      },
      [],
    );
    assert.equal(fileOf('conds'), path.join(dir, 'n.mjs'));
  });

  it('maps subpaths exactly and through the most specific `*` pattern', () => {
    const dir = writePackage(
      'subs',
      {
        exports: {
          '.': './main.js',
          './extra': { import: './lib/extra.js' },
          './features/*': './lib/features/*.js',
          './features/private/*': null,
        },
      },
      [],
    );
    assert.equal(fileOf('subs/extra'), path.join(dir, 'lib', 'extra.js'));
    assert.equal(fileOf('subs/features/s3'), path.join(dir, 'lib', 'features', 's3.js'));
    assert.throws(() => lookUpPackage('subs/features/private/x', from), /has no entry/);
    assert.throws(() => lookUpPackage('subs/missing', from), /has no entry/);
  });

  it('takes the first usable target of a fallback array', () => {
    const dir = writePackage(
      'arr',
      { exports: [{ worker: './w.js' }, './first-usable.js', './second.js'] },
      [],
    );
    assert.equal(fileOf('arr'), path.join(dir, 'first-usable.js'));
  });

  it('uses `main` (with `.js` or `/index.js`), then `index.js`, without `exports`', () => {
    const a = writePackage('main-ext', { main: 'lib/entry' }, ['lib/entry.js']);
    const b = writePackage('main-dir', { main: 'lib' }, ['lib/index.js']);
    const c = writePackage('no-manifest', undefined, ['index.js']);
    assert.equal(fileOf('main-ext'), path.join(a, 'lib', 'entry.js'));
    assert.equal(fileOf('main-dir'), path.join(b, 'lib', 'index.js'));
    assert.equal(fileOf('no-manifest'), path.join(c, 'index.js'));
  });

  it('lists every node_modules folder it searched, nearest first', () => {
    const r = lookUpPackage('@nobody/nothing', from);
    assert.equal(r.found, false);
    assert.deepEqual(r.found ? [] : r.searched.slice(0, 4), [
      path.join(from, 'node_modules'),
      path.join(root, 'a', 'node_modules'),
      nodeModules,
      path.join(path.dirname(root), 'node_modules'),
    ]);
  });

  it('tells package names from paths and URLs', () => {
    assert.deepEqual(splitPackageSpecifier('pkg'), { name: 'pkg', subpath: '.' });
    assert.deepEqual(splitPackageSpecifier('@s/pkg/a/b'), { name: '@s/pkg', subpath: './a/b' });
    for (const s of ['./x.js', '../x', '/abs/x.js', 'file:///x.js', 'node:fs', '@scope', 'C:\\x']) {
      assert.equal(splitPackageSpecifier(s), undefined, s);
    }
  });
});
