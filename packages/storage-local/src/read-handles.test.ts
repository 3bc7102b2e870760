import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError, NotFoundError } from '@barge/core';
import { createLocalStorage, LocalStorage } from './index.js';
import { ReadHandles } from './read-handles.js';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'barge-handles-'));
});
after(() => rm(root, { recursive: true, force: true }));

const notAFile = () => new Error('not a file');

async function readAll(handles: ReadHandles, file: string): Promise<string> {
  return handles.read(file, notAFile, async (fh, st) => {
    const b = Buffer.alloc(st.size);
    await fh.read(b, 0, st.size, 0);
    return b.toString();
  });
}

describe('ReadHandles', () => {
  it('keeps one handle per file read, at most max, the least recently used closed first', async () => {
    const handles = new ReadHandles(2);
    const files = ['a', 'b', 'c'].map((n) => path.join(root, `lru-${n}`));
    for (const f of files) await writeFile(f, path.basename(f));
    assert.equal(await readAll(handles, files[0]!), 'lru-a');
    assert.equal(await readAll(handles, files[0]!), 'lru-a');
    assert.equal(handles.size, 1);
    for (const f of files) assert.equal(await readAll(handles, f), path.basename(f));
    assert.equal(handles.size, 2);
    handles.close();
    assert.equal(handles.size, 0);
  });

  it('reads a file replaced or deleted behind its back as it is now', async () => {
    const handles = new ReadHandles(4);
    const file = path.join(root, 'replaced');
    await writeFile(file, 'old');
    assert.equal(await readAll(handles, file), 'old');
    await writeFile(`${file}.tmp`, 'new bytes');
    await rename(`${file}.tmp`, file);
    assert.equal(await readAll(handles, file), 'new bytes');
    await unlink(file);
    await assert.rejects(readAll(handles, file), (e: unknown) => (e as { code?: string }).code === 'ENOENT');
    handles.close();
  });

  it('closes a handle dropped during a read once the read ends', async () => {
    const handles = new ReadHandles(4);
    const file = path.join(root, 'in-use');
    await writeFile(file, 'still readable');
    const got = await handles.read(file, notAFile, async (fh, st) => {
      handles.forget(file);
      const b = Buffer.alloc(st.size);
      await fh.read(b, 0, st.size, 0);
      return b.toString();
    });
    assert.equal(got, 'still readable');
    assert.equal(handles.size, 0);
  });

  it('keeps a handle open for a read that started before it was dropped', async () => {
    const handles = new ReadHandles(4);
    const file = path.join(root, 'pinned');
    await writeFile(file, 'pinned');
    assert.equal(await readAll(handles, file), 'pinned');
    const reading = readAll(handles, file); // its stat is running
    handles.forget(file);
    assert.equal(await reading, 'pinned');
    assert.equal(handles.size, 0);
  });

  it('serves many concurrent reads of more files than it keeps open', async () => {
    const handles = new ReadHandles(2);
    const files = Array.from({ length: 6 }, (_, i) => path.join(root, `many-${i}`));
    for (const f of files) await writeFile(f, path.basename(f));
    const reads = Array.from({ length: 200 }, (_, i) => files[(i * 7) % files.length]!);
    const got = await Promise.all(reads.map((f) => readAll(handles, f)));
    assert.deepEqual(
      got,
      reads.map((f) => path.basename(f)),
    );
    assert.ok(handles.size <= 2);
    handles.close();
  });

  it('does not read a directory', async () => {
    const handles = new ReadHandles(4);
    await mkdir(path.join(root, 'dir'));
    await assert.rejects(readAll(handles, path.join(root, 'dir')), /not a file/);
    assert.equal(handles.size, 0);
  });
});

describe('LocalStorage with open read handles', () => {
  it('sees deletes and overwrites by another instance on the same root', async () => {
    const dir = path.join(root, 'shared');
    const reader = await createLocalStorage({ root: dir });
    const writer = await createLocalStorage({ root: dir });
    try {
      await writer.put('t/0/a', Buffer.from('first'));
      assert.equal((await reader.getRange('t/0/a', 0, 3)).toString(), 'fir');
      await writer.put('t/0/a', Buffer.from('second'));
      assert.equal((await reader.get('t/0/a')).toString(), 'second');
      await writer.delete(['t/0/a']);
      await assert.rejects(reader.getRange('t/0/a', 0, 3), NotFoundError);
      await assert.rejects(reader.get('t/0/a'), NotFoundError);
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('reads without keeping handles with openReadHandles 0, and rejects a bad count', async () => {
    const storage = await createLocalStorage({ root: path.join(root, 'none'), openReadHandles: 0 });
    await storage.put('k', Buffer.from('value'));
    assert.equal((await storage.getRange('k', 1, 3)).toString(), 'alu');
    await storage.delete(['k']);
    await assert.rejects(storage.get('k'), NotFoundError);
    await storage.close();
    assert.throws(() => new LocalStorage({ root, openReadHandles: -1 }), InvalidInputError);
  });
});
