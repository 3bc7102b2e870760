import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuthError,
  guardStorage,
  InvalidInputError,
  listAll,
  loadPlugin,
  NotFoundError,
  type ObjectStorage,
  PermanentError,
} from '@barge/core';
import { bargePlugin, createLocalStorage, LocalStorage, localStorageConfigSchema } from './index.js';

const TEMP_PREFIX = '.barge\\';

async function keys(storage: ObjectStorage, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(storage, prefix)) out.push(o.key);
  return out;
}

/** Every path under `dir`, relative, directories with a trailing `/`. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        out.push(`${rel}${e.name}/`);
        await visit(path.join(d, e.name), `${rel}${e.name}/`);
      } else {
        out.push(rel + e.name);
      }
    }
  };
  await visit(dir, '');
  return out.sort();
}

describe('LocalStorage (local-only behaviour)', () => {
  let base: string;
  let n = 0;
  /** A fresh root inside a parent directory that must stay untouched; the storage as the broker sees it. */
  const fresh = async () => {
    const parent = path.join(base, `case-${n++}`);
    const root = path.join(parent, 'root');
    await mkdir(parent, { recursive: true });
    return { parent, root, storage: guardStorage(await createLocalStorage({ root })) };
  };

  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'barge-local-only-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('maps key a/b/c to the file <root>/a/b/c and reports the absolute root as location', async () => {
    const { root, storage } = await fresh();
    assert.equal(storage.adapter, 'local');
    assert.equal(storage.location, path.resolve(root));
    await storage.put('a/b/c', [Buffer.from('hello '), Buffer.from('world')]);
    assert.equal(await readFile(path.join(root, 'a', 'b', 'c'), 'utf8'), 'hello world');
    assert.deepEqual(await tree(root), ['a/', 'a/b/', 'a/b/c']);
  });

  it('stores encoded and look-alike traversal keys literally, inside the root', async () => {
    const { parent, root, storage } = await fresh();
    const tricky = [
      '%2e%2e/%2e%2e/outside',
      '%2E%2E%2Foutside',
      '..%2f..%2foutside',
      '%252e%252e/x',
      '\uff0e\uff0e/fullwidth-dots',
      '\u2024\u2024/one-dot-leaders',
      '.../x',
      '..a/x',
      'a../x',
      ' ../x',
      '~/x',
      '$HOME/x',
      'C:/x',
    ];
    for (const k of tricky) await storage.put(k, Buffer.from(k));
    for (const k of tricky) {
      assert.equal(await readFile(path.join(root, ...k.split('/')), 'utf8'), k, `file of ${k}`);
      assert.equal((await storage.get(k)).toString(), k);
    }
    assert.deepEqual(await readdir(parent), ['root'], 'nothing was written next to the root');
    assert.equal((await keys(storage)).length, tricky.length);
  });

  it('rejects traversal keys before touching the file system', async () => {
    const { parent, root, storage } = await fresh();
    await writeFile(path.join(parent, 'secret'), 'do not read');
    for (const k of ['../secret', 'a/../../secret', '..\\secret', '/etc/passwd', 'a/..', '..']) {
      await assert.rejects(storage.get(k), InvalidInputError, `get ${k}`);
      await assert.rejects(storage.put(k, Buffer.from('x')), InvalidInputError, `put ${k}`);
      await assert.rejects(storage.delete([k]), InvalidInputError, `delete ${k}`);
    }
    await assert.rejects(storage.listPage('../'), InvalidInputError);
    assert.equal(await readFile(path.join(parent, 'secret'), 'utf8'), 'do not read');
    assert.deepEqual(await tree(root), []);
  });

  it('ignores temp files left by crashed writers and sweeps the old ones on open', async () => {
    const { root, storage } = await fresh();
    await storage.put('t/a', Buffer.from('a'));
    await storage.put('t/b', Buffer.from('b'));
    const oldTemp = path.join(root, 't', `${TEMP_PREFIX}999-dead.tmp`);
    const youngTemp = path.join(root, 't', `${TEMP_PREFIX}999-young.tmp`);
    const rootTemp = path.join(root, `${TEMP_PREFIX}1-x.tmp`);
    const orphanDirTemp = path.join(root, 'orphan', 'deep', `${TEMP_PREFIX}1-y.tmp`);
    await mkdir(path.dirname(orphanDirTemp), { recursive: true });
    for (const f of [oldTemp, youngTemp, rootTemp, orphanDirTemp]) await writeFile(f, 'partial');
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    for (const f of [oldTemp, rootTemp, orphanDirTemp]) await utimes(f, hourAgo, hourAgo);

    assert.deepEqual(await keys(storage), ['t/a', 't/b'], 'temp files are not listed');
    assert.deepEqual(await keys(storage, 't/'), ['t/a', 't/b']);
    await assert.rejects(
      storage.get(`t/${TEMP_PREFIX}999-dead.tmp`),
      InvalidInputError,
      'a temp name is not a key',
    );

    const reopened = await createLocalStorage({ root });
    assert.deepEqual(
      await tree(root),
      ['t/', `t/${TEMP_PREFIX}999-young.tmp`, 't/a', 't/b'],
      'old temp files and the directories they alone kept are gone; the young one stays',
    );
    assert.equal(await reopened.sweepTempFiles(0), 1);
    assert.deepEqual(await tree(root), ['t/', 't/a', 't/b']);
    const noSweep = await createLocalStorage({ root, sweepTempFilesOlderThanMs: false });
    assert.deepEqual(await keys(noSweep), ['t/a', 't/b']);
  });

  it('skips foreign entries that cannot be keys: control characters, backslashes, symlinks, sockets', async () => {
    const { root, storage } = await fresh();
    await storage.put('d/ok', Buffer.from('ok'));
    await writeFile(path.join(root, 'd', 'bad\u0001name'), 'x');
    await writeFile(path.join(root, 'd', 'back\\slash'), 'x');
    await symlink(path.join(root, 'd', 'ok'), path.join(root, 'd', 'link'));
    assert.deepEqual(await keys(storage), ['d/ok']);
  });

  it('removes directories left empty by delete, up to but not including the root', async () => {
    const { root, storage } = await fresh();
    await storage.put('x/y/z/1', Buffer.from('1'));
    await storage.put('x/y/2', Buffer.from('2'));
    await storage.put('x/w/3', Buffer.from('3'));
    await storage.delete(['x/y/z/1']);
    assert.deepEqual(await tree(root), ['x/', 'x/w/', 'x/w/3', 'x/y/', 'x/y/2']);
    await storage.delete(['x/y/2', 'x/w/3']);
    assert.deepEqual(await tree(root), []);
    assert.ok((await stat(root)).isDirectory(), 'the root stays');
  });

  it('deletes race-free against concurrent puts into the directories it empties', async () => {
    const { root, storage } = await fresh();
    for (let i = 0; i < 200; i++) {
      await storage.put(`race/${i}/old`, Buffer.from('old'));
      const results = await Promise.allSettled([
        storage.delete([`race/${i}/old`]),
        storage.put(`race/${i}/new`, Buffer.from(`new ${i}`)),
        storage.put(`race/${i}/deeper/new`, Buffer.from(`deeper ${i}`)),
      ]);
      for (const r of results)
        assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
      assert.equal((await storage.get(`race/${i}/new`)).toString(), `new ${i}`);
      assert.equal((await storage.get(`race/${i}/deeper/new`)).toString(), `deeper ${i}`);
      await assert.rejects(storage.head(`race/${i}/old`), NotFoundError);
    }
    await storage.delete((await keys(storage)).slice());
    assert.deepEqual(await tree(root), []);
  });

  it('stores many concurrent puts into new directories, each readable once its put resolved', async () => {
    const { root, storage } = await fresh();
    const puts = Array.from({ length: 120 }, async (_, i) => {
      const key = `many/${i % 7}/${i % 3}/obj-${i}`;
      await storage.put(key, [Buffer.from(`head ${i} `), Buffer.from(`body ${i}`)]);
      // Resolved: the object is there, whatever the other puts are doing.
      assert.equal((await storage.get(key)).toString(), `head ${i} body ${i}`);
    });
    await Promise.all(puts);
    assert.equal((await keys(storage, 'many/')).length, 120);
    assert.ok(!(await tree(root)).some((p) => p.includes(TEMP_PREFIX)), 'no temp file left');
  });

  it('recreates a directory removed behind its back (by another process) on the next put', async () => {
    const { root, storage } = await fresh();
    await storage.put('gone/a/x', Buffer.from('1'));
    await rm(path.join(root, 'gone'), { recursive: true });
    await storage.put('gone/a/y', Buffer.from('2'));
    assert.equal((await storage.get('gone/a/y')).toString(), '2');
    await storage.delete(['gone/a/y']);
    assert.deepEqual(await tree(root), [], 'delete pruned the directories');
    await storage.put('gone/a/z', Buffer.from('3'));
    assert.deepEqual(await keys(storage), ['gone/a/z']);
  });

  it('leaves no temp file behind after a failed or aborted put', async () => {
    const { root, storage } = await fresh();
    await storage.put('c/child', Buffer.from('x'));
    await assert.rejects(storage.put('c', Buffer.from('conflict')), PermanentError);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(storage.put('c/aborted', Buffer.from('x'), { signal: ac.signal }), {
      name: 'AbortError',
    });
    const big = randomBytes(8 * 1024 * 1024);
    const ac2 = new AbortController();
    const p = storage.put('c/midway', [big, big, big], { signal: ac2.signal });
    ac2.abort();
    await assert.rejects(p, { name: 'AbortError' });
    assert.deepEqual(await tree(root), ['c/', 'c/child']);
  });

  it('gives a new etag on every put, even for same-size bodies in quick succession', async () => {
    const { storage } = await fresh();
    const etags = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = await storage.put('same', Buffer.from(String(i % 10)));
      assert.ok(r.etag);
      etags.add(r.etag);
      assert.equal((await storage.head('same')).etag, r.etag);
    }
    assert.equal(etags.size, 200);
  });

  it('rejects a key segment longer than the file system allows with InvalidInputError', async () => {
    const { storage } = await fresh();
    const key = `long/${'x'.repeat(300)}`;
    await assert.rejects(storage.put(key, Buffer.from('x')), InvalidInputError);
    await assert.rejects(storage.get(key), InvalidInputError);
  });

  it('reports permission problems as AuthError', {
    skip: process.getuid?.() === 0 ? 'running as root: file permissions are not enforced' : false,
  }, async () => {
    const { root, storage } = await fresh();
    await storage.put('locked/a', Buffer.from('a'));
    await chmod(path.join(root, 'locked'), 0o000);
    try {
      await assert.rejects(storage.get('locked/a'), AuthError);
      await assert.rejects(storage.put('locked/b', Buffer.from('b')), AuthError);
    } finally {
      await chmod(path.join(root, 'locked'), 0o755);
    }
  });

  it('reports an unusable root as an error naming it', async () => {
    const file = path.join(base, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(createLocalStorage({ root: file }), (e: unknown) => {
      assert.ok(e instanceof Error && e.message.includes(file), String(e));
      return true;
    });
    assert.throws(() => new LocalStorage({ root: '' }), InvalidInputError);
  });

  it('rejects operations after close with PermanentError; close is idempotent', async () => {
    const { storage } = await fresh();
    await storage.put('k', Buffer.from('v'));
    await storage.close();
    await storage.close();
    await assert.rejects(storage.get('k'), PermanentError);
    await assert.rejects(storage.put('k', Buffer.from('v')), PermanentError);
  });
});

describe('bargePlugin (local)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'barge-local-plugin-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('declares a storage plugin named local for core API 1', () => {
    assert.equal(bargePlugin.kind, 'storage');
    assert.equal(bargePlugin.name, 'local');
    assert.deepEqual(bargePlugin.coreApi, [1]);
    assert.equal(bargePlugin.configSchema, localStorageConfigSchema);
  });

  it('validates its config section strictly', () => {
    assert.deepEqual(localStorageConfigSchema.parse({}), {});
    assert.deepEqual(localStorageConfigSchema.parse({ root: '/data' }), { root: '/data' });
    assert.equal(localStorageConfigSchema.safeParse({ root: 1 }).success, false);
    assert.equal(localStorageConfigSchema.safeParse({ root: '' }).success, false);
    assert.equal(localStorageConfigSchema.safeParse({ rooot: '/x' }).success, false);
  });

  it('defaults the root to <dataDir>/objects', async () => {
    const storage = await bargePlugin.create({}, { dataDir: dir, log: () => {} });
    assert.equal(storage.location, path.join(dir, 'objects'));
    await storage.put('p', Buffer.from('x'));
    assert.equal(await readFile(path.join(dir, 'objects', 'p'), 'utf8'), 'x');
    await storage.close();
  });

  it('is found and configured by core from `storage: { adapter: local }`', async () => {
    const root = path.join(dir, 'configured');
    const { plugin, config } = await loadPlugin('storage', { adapter: 'local', root }, (s) => import(s));
    assert.equal(plugin, bargePlugin);
    assert.deepEqual(config, { root });
    await assert.rejects(
      loadPlugin('storage', { adapter: 'local', root: 5 }, (s) => import(s)),
      (e: unknown) => e instanceof Error && /storage\.root/.test(e.message),
    );
  });
});
