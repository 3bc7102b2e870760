import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type BatchPointer,
  encodePointer,
  loadPlugin,
  type PointerRecord,
  readPartitionFor,
} from '@barge/core';
import { assertRejectsWithCode, randomName, testPointer } from '@barge/testkit';
import Database from 'better-sqlite3';
import { assignRange } from './group.js';
import type { EmbeddedConsumer } from './group-member.js';
import { bargePlugin, createEmbeddedPointerQueue } from './index.js';
import { EmbeddedPointerQueue } from './queue.js';
import { PointerStore } from './store.js';

const here = dirname(fileURLToPath(import.meta.url));

async function tempPath(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'barge-pointers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'pointers.sqlite');
}

async function openQueue(
  t: TestContext,
  path?: string,
): Promise<{ queue: EmbeddedPointerQueue; path: string }> {
  const p = path ?? (await tempPath(t));
  const queue = new EmbeddedPointerQueue({ path: p });
  t.after(() => queue.close());
  return { queue, path: p };
}

/** Reads every pointer of `topic` from the start with a fresh group. */
async function readAll(queue: EmbeddedPointerQueue, topic: string): Promise<PointerRecord[]> {
  const c = await queue.subscribe({ group: randomName('readall'), topic });
  const out: PointerRecord[] = [];
  for (;;) {
    const got = await c.poll({ timeoutMs: 0, maxRecords: 1000 });
    if (got.length === 0) break;
    out.push(...got);
  }
  await c.close();
  return out;
}

describe('EmbeddedPointerQueue', () => {
  describe('durability', () => {
    it('keeps every pointer whose publish resolved when the process is SIGKILLed', {
      timeout: 60_000,
    }, async (t) => {
      const path = await tempPath(t);
      const topic = randomName();
      const child = spawn(
        process.execPath,
        [join(here, 'fixtures', 'publish-child.js'), path, topic, '3', '4'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += String(d);
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      const lines: { seq: number; out: { partition: number; offset: number }[] }[] = [];
      let killed = false;
      for await (const line of createInterface({ input: child.stdout })) {
        if (line === 'ready') continue;
        lines.push(JSON.parse(line));
        if (lines.length >= 300 && !killed) {
          child.kill('SIGKILL');
          killed = true;
        }
      }
      assert.equal(await exited, 'SIGKILL', `child must die by SIGKILL (stderr: ${stderr})`);
      assert.ok(lines.length >= 300, `child printed ${lines.length} lines; stderr: ${stderr}`);

      const { queue } = await openQueue(t, path);
      const stored = new Map<string, BatchPointer>();
      for (const r of await readAll(queue, topic)) stored.set(`${r.partition}/${r.offset}`, r.pointer);
      for (const { seq, out } of lines) {
        out.forEach((pos, wp) => {
          const p = stored.get(`${pos.partition}/${pos.offset}`);
          assert.ok(
            p,
            `pointer wp ${wp} seq ${seq} at ${pos.partition}/${pos.offset} was acknowledged but is gone`,
          );
          assert.equal(p.writePartition, wp);
          assert.equal(p.sequence, seq);
          assert.equal(pos.partition, readPartitionFor(wp, 3));
        });
      }
      // Nothing half-written: every partition's offsets are contiguous from 0.
      for (let p = 0; p < 3; p++) {
        const { low, high } = await queue.watermarks(topic, p);
        assert.equal(low, 0);
        for (let off = 0; off < high; off++)
          assert.ok(stored.has(`${p}/${off}`), `offset ${off} of partition ${p}`);
      }
    });

    it('uses WAL, and the topics survive a reopen', async (t) => {
      const { queue, path } = await openQueue(t);
      await queue.ensureTopic('a', 2);
      await queue.ensureTopic('b', 5);
      await queue.close();
      const db = new Database(path, { readonly: true });
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
      const { queue: again } = await openQueue(t, path);
      assert.deepEqual(await again.topics(), [
        { name: 'a', partitions: 2 },
        { name: 'b', partitions: 5 },
      ]);
    });

    it('refuses a second queue on the same file while the first is open', async (t) => {
      const { queue, path } = await openQueue(t);
      await queue.ensureTopic('a', 1);
      assert.throws(
        () => new EmbeddedPointerQueue({ path, busyTimeoutMs: 0 }),
        (e: unknown) => (e as { code?: string }).code === 'CONFIG' && /in use/.test((e as Error).message),
      );
      assert.equal(await queue.partitions('a'), 1, 'the first queue still works');
      await queue.close();
      const { queue: next } = await openQueue(t, path);
      assert.equal(await next.partitions('a'), 1, 'the file is free after close');
    });
  });

  describe('publish', () => {
    it('keeps per-partition order with many concurrent callers', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 4);
      const callers = 24;
      const calls = 20;
      const results = await Promise.all(
        Array.from({ length: callers }, async (_, wp) => {
          const out = [];
          for (let k = 0; k < calls; k++) {
            out.push(
              ...(await queue.publish(topic, [
                testPointer(topic, wp, 2 * k),
                testPointer(topic, wp, 2 * k + 1),
              ])),
            );
            if (k % 3 === wp % 3) await new Promise((r) => setImmediate(r));
          }
          return out;
        }),
      );
      const all = await readAll(queue, topic);
      assert.equal(all.length, callers * calls * 2);
      const seqs = new Map<number, number[]>();
      const offsets = new Map<number, number[]>();
      for (const r of all) {
        seqs.set(r.pointer.writePartition, [
          ...(seqs.get(r.pointer.writePartition) ?? []),
          r.pointer.sequence,
        ]);
        offsets.set(r.partition, [...(offsets.get(r.partition) ?? []), r.offset]);
        assert.equal(r.partition, readPartitionFor(r.pointer.writePartition, 4));
      }
      for (let wp = 0; wp < callers; wp++) {
        assert.deepEqual(
          seqs.get(wp),
          Array.from({ length: calls * 2 }, (_, i) => i),
          `write partition ${wp} in order`,
        );
        // What publish returned matches where the pointers are.
        const mine = results[wp]!;
        for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.offset > mine[i - 1]!.offset);
      }
      for (const [p, offs] of offsets) {
        assert.deepEqual(
          offs,
          Array.from({ length: offs.length }, (_, i) => i),
          `partition ${p} contiguous`,
        );
      }
    });

    it('gives publishes made in one turn (one group commit) offsets in call order; all resolve', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 2);
      const calls = Array.from({ length: 60 }, (_, k) =>
        queue.publish(topic, [testPointer(topic, k % 5, k), testPointer(topic, (k + 1) % 5, k)]),
      );
      const results = await Promise.all(calls);
      const offsets = new Map<number, number[]>();
      for (const out of results) {
        for (const r of out) offsets.set(r.partition, [...(offsets.get(r.partition) ?? []), r.offset]);
      }
      for (const [p, offs] of offsets) {
        assert.deepEqual(
          offs,
          Array.from({ length: offs.length }, (_, i) => i),
          `partition ${p}: contiguous, in call order`,
        );
      }
      const stored = await readAll(queue, topic);
      assert.equal(stored.length, 120, 'every resolved publish is readable');
    });

    it('shows readers a committed pointer only once it is durable', async (t) => {
      const path = await tempPath(t);
      const store = new PointerStore(path, 0);
      t.after(() => store.close());
      store.createTopic('v', 1);
      const json = encodePointer(testPointer('v', 0, 0)).toString('utf8');
      const out = store.publish('v', 1, [{ writePartition: 0, json }]);
      assert.deepEqual(out, [{ partition: 0, offset: 0 }]);
      // Committed, but the log's fsync has not run: a power cut could still take it back.
      assert.equal(store.watermarks('v', 0).high, 0);
      assert.deepEqual(store.read('v', 0, 0, 10), []);
      assert.equal(store.offsetForTimestamp('v', 0, 0), 0);
      assert.deepEqual(store.deleteBefore('v', 0, 1), { deleted: 0, low: 0 });
      await store.sync();
      store.markDurable('v', out);
      assert.equal(store.watermarks('v', 0).high, 1);
      assert.equal(store.read('v', 0, 0, 10).length, 1);
    });

    it('rejects invalid pointers and publishes nothing of a call that has one', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 2);
      const bad: [string, unknown][] = [
        ['wrong version', testPointer(topic, 0, 0, { v: 2 })],
        ['negative sequence', testPointer(topic, 0, 0, { sequence: -1 })],
        ['header past the object', testPointer(topic, 0, 0, { headerLength: 10, objectSize: 5 })],
        [
          'no storage key',
          testPointer(topic, 0, 0, { storage: { adapter: 'local', location: '', key: '' } }),
        ],
        ['fractional write partition', testPointer(topic, 0, 0, { writePartition: 1.5 })],
        ['not an object', 'pointer'],
        ['null', null],
        [
          'too large',
          testPointer(topic, 0, 0, { storage: { adapter: 'local', location: 'x', key: 'k'.repeat(70_000) } }),
        ],
      ];
      for (const [what, pointer] of bad) {
        await assertRejectsWithCode(
          queue.publish(topic, [testPointer(topic, 0, 0), pointer as BatchPointer, testPointer(topic, 1, 0)]),
          'INVALID_INPUT',
          what,
        );
      }
      for (const p of [0, 1]) assert.deepEqual(await queue.watermarks(topic, p), { low: 0, high: 0 });
      assert.deepEqual(await readAll(queue, topic), []);
      // Extra fields are dropped: what is stored is the validated pointer.
      const extra = { ...testPointer(topic, 0, 0), secret: 'x' } as BatchPointer;
      await queue.publish(topic, [extra]);
      const [r] = await readAll(queue, topic);
      assert.equal((r!.pointer as unknown as Record<string, unknown>).secret, undefined);
      assert.deepEqual(
        r!.pointer,
        testPointer(topic, 0, 0, {
          createdAt: extra.createdAt,
          firstTimestamp: extra.firstTimestamp,
          lastTimestamp: extra.lastTimestamp,
        }),
      );
      await assertRejectsWithCode(
        queue.publish(randomName(), [testPointer(topic, 0, 0)]),
        'NOT_FOUND',
        'unknown topic',
      );
    });

    it('never returns a stored pointer row that fails validation', async (t) => {
      const { queue, path } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 1);
      await queue.publish(
        topic,
        [0, 1, 2].map((s) => testPointer(topic, 0, s)),
      );
      await queue.close();
      const db = new Database(path);
      db.prepare('UPDATE pointers SET pointer = ? WHERE "offset" = 1').run('{"v":1,"topic":"x"}');
      db.close();
      const { queue: again } = await openQueue(t, path);
      const c = await again.subscribe({ group: randomName(), topic });
      await assertRejectsWithCode(c.poll({ timeoutMs: 0, maxRecords: 10 }), 'CORRUPT', 'corrupt row');
    });
  });

  describe('consumer groups', () => {
    it('assigns contiguous ranges to members sorted by id', () => {
      assert.deepEqual(
        [...assignRange(['b', 'a', 'c'], 7)],
        [
          ['a', [0, 1, 2]],
          ['b', [3, 4]],
          ['c', [5, 6]],
        ],
      );
      assert.deepEqual(
        [...assignRange(['x', 'y', 'z'], 2)],
        [
          ['x', [0]],
          ['y', [1]],
          ['z', []],
        ],
      );
      assert.deepEqual([...assignRange([], 3)], []);
    });

    it('bumps the generation at every join and leave and tells listeners', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 4);
      const group = randomName();
      const a = (await queue.subscribe({ group, topic, clientId: 'a' })) as EmbeddedConsumer;
      const seen: (readonly number[])[] = [];
      a.onAssignment((p) => seen.push(p));
      assert.equal(a.generation, 1);
      assert.deepEqual(a.assignment(), [0, 1, 2, 3]);
      const b = (await queue.subscribe({ group, topic, clientId: 'b' })) as EmbeddedConsumer;
      assert.equal(a.generation, 2);
      assert.equal(b.generation, 2);
      assert.deepEqual(
        [a.assignment(), b.assignment()],
        [
          [0, 1],
          [2, 3],
        ],
      );
      const c = (await queue.subscribe({ group, topic, clientId: 'c' })) as EmbeddedConsumer;
      assert.deepEqual([a.assignment(), b.assignment(), c.assignment()], [[0, 1], [2], [3]]);
      await b.close();
      assert.equal(queue.membership(group, topic)?.generation, 4);
      assert.deepEqual(
        queue.membership(group, topic)?.members.map((m) => [m.clientId, m.partitions]),
        [
          ['a', [0, 1]],
          ['c', [2, 3]],
        ],
      );
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, [
        [0, 1],
        [0, 1],
        [0, 1],
      ]);
      await c.close();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen.at(-1), [0, 1, 2, 3]);
      assert.equal(a.generation, 5);
      // A listener that throws does not break the group.
      a.onAssignment(() => {
        throw new Error('boom');
      });
      const d = await queue.subscribe({ group, topic, clientId: 'd' });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen.at(-1), [0, 1]);
      assert.deepEqual(d.assignment(), [2, 3]);
    });

    it('after a rebalance, polls only assigned partitions and starts new ones at the commit', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 2);
      await queue.publish(
        topic,
        [0, 1, 2, 3].flatMap((s) => [testPointer(topic, 0, s), testPointer(topic, 1, s)]),
      );
      const group = randomName();
      const a = await queue.subscribe({ group, topic, clientId: 'a' });
      const first = await a.poll({ timeoutMs: 0, maxRecords: 100 });
      assert.equal(first.length, 8);
      await a.commit([
        { partition: 0, offset: 4 },
        { partition: 1, offset: 1, messageIndex: 9 },
      ]);
      const b = await queue.subscribe({ group, topic, clientId: 'b' });
      assert.deepEqual([a.assignment(), b.assignment()], [[0], [1]]);
      // a kept partition 0 and its position (the end); b starts partition 1 at the commit.
      assert.deepEqual(await a.poll({ timeoutMs: 0 }), []);
      const got = await b.poll({ timeoutMs: 0 });
      assert.deepEqual(
        got.map((r) => [r.partition, r.offset]),
        [
          [1, 1],
          [1, 2],
          [1, 3],
        ],
      );
      await queue.publish(topic, [testPointer(topic, 1, 4), testPointer(topic, 0, 4)]);
      assert.deepEqual(
        (await a.poll({ timeoutMs: 0 })).map((r) => [r.partition, r.offset]),
        [[0, 4]],
      );
      await assertRejectsWithCode(a.commit([{ partition: 1, offset: 4 }]), 'REBALANCE', 'foreign partition');
      assert.throws(
        () => a.seek(1, 0),
        (e: unknown) => (e as { code?: string }).code === 'REBALANCE',
      );
      await assertRejectsWithCode(a.commit([{ partition: 0, offset: 99 }]), 'INVALID_INPUT', 'past the end');
      await assertRejectsWithCode(
        a.commit([{ partition: 5, offset: 0 }]),
        'INVALID_INPUT',
        'no such partition',
      );
      await a.close();
      await assertRejectsWithCode(a.commit([{ partition: 0, offset: 1 }]), 'REBALANCE', 'closed member');
      await assertRejectsWithCode(a.poll({ timeoutMs: 0 }), 'PERMANENT', 'poll after close');
      // b took partition 0 over at a's committed position (4).
      assert.deepEqual(
        (await b.poll({ timeoutMs: 0 })).map((r) => [r.partition, r.offset]).sort((x, y) => x[0]! - y[0]!),
        [
          [0, 4],
          [1, 4],
        ],
      );
    });

    it('closing the queue ends waiting polls with [] and later calls with PermanentError', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 1);
      const c = await queue.subscribe({ group: randomName(), topic });
      const waiting = c.poll({ timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 20));
      await queue.close();
      assert.deepEqual(await waiting, []);
      await assertRejectsWithCode(queue.partitions(topic), 'PERMANENT', 'partitions after close');
      await assertRejectsWithCode(
        queue.publish(topic, [testPointer(topic, 0, 0)]),
        'PERMANENT',
        'publish after close',
      );
      await assertRejectsWithCode(
        queue.subscribe({ group: 'g', topic }),
        'PERMANENT',
        'subscribe after close',
      );
    });
  });

  describe('retention', () => {
    it('deleteBefore moves the low watermark and consumers behind it continue there', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 2);
      await queue.publish(
        topic,
        [0, 1, 2, 3, 4].map((s) => testPointer(topic, 0, s)),
      );
      const group = randomName();
      const c = await queue.subscribe({ group, topic });
      await c.commit([{ partition: 0, offset: 1 }]);
      await c.close();
      assert.equal(await queue.deleteBefore(topic, 0, 3), 3);
      assert.equal(await queue.deleteBefore(topic, 0, 2), 0, 'the low watermark never goes back');
      assert.deepEqual(await queue.watermarks(topic, 0), { low: 3, high: 5 });
      assert.equal(await queue.offsetForTimestamp(topic, 0, 0), 3);
      const again = await queue.subscribe({ group, topic });
      assert.deepEqual(
        (await again.poll({ timeoutMs: 0 })).map((r) => r.offset),
        [3, 4],
      );
      assert.equal(await queue.deleteBefore(topic, 0, 100), 2, 'capped at the high watermark');
      assert.deepEqual(await queue.watermarks(topic, 0), { low: 5, high: 5 });
      const [pos] = await queue.publish(topic, [testPointer(topic, 0, 5)]);
      assert.deepEqual(pos, { partition: 0, offset: 5 }, 'offsets are never reused');
    });

    it('trim deletes pointers older than a cutoff, on every partition', async (t) => {
      const { queue } = await openQueue(t);
      const topic = randomName();
      await queue.ensureTopic(topic, 2);
      await queue.publish(
        topic,
        [0, 1].flatMap((s) => [testPointer(topic, 0, s), testPointer(topic, 1, s)]),
      );
      await new Promise((r) => setTimeout(r, 30));
      const cutoff = Date.now();
      await new Promise((r) => setTimeout(r, 30));
      await queue.publish(topic, [testPointer(topic, 0, 2)]);
      assert.equal(await queue.trim(0, { now: cutoff }), 4);
      assert.deepEqual(await queue.watermarks(topic, 0), { low: 2, high: 3 });
      assert.deepEqual(await queue.watermarks(topic, 1), { low: 2, high: 2 });
      assert.equal(await queue.trim(60_000), 0, 'nothing is a minute old');
      assert.deepEqual(
        (await readAll(queue, topic)).map((r) => [r.partition, r.offset, r.pointer.sequence]),
        [[0, 2, 2]],
      );
    });
  });

  describe('plugin', () => {
    it('loads as the embedded pointers adapter and defaults the file to <dataDir>/pointers.sqlite', async (t) => {
      const dataDir = dirname(await tempPath(t));
      const { plugin, config } = await loadPlugin('pointers', { adapter: 'embedded' }, async () => ({
        bargePlugin,
      }));
      assert.equal(plugin, bargePlugin);
      assert.deepEqual(config, {});
      const queue = await plugin.create(config, { dataDir: join(dataDir, 'nested'), log: () => {} });
      t.after(() => queue.close());
      assert.equal(queue.adapter, 'embedded');
      await queue.ensureTopic('t', 1);
      assert.ok(existsSync(join(dataDir, 'nested', 'pointers.sqlite')));
      await assert.rejects(
        loadPlugin('pointers', { adapter: 'embedded', pathh: 'x' }, async () => ({ bargePlugin })),
        (e: unknown) => (e as { code?: string }).code === 'CONFIG' && /pathh/.test((e as Error).message),
      );
      const custom = join(dataDir, 'custom.db');
      const q2 = createEmbeddedPointerQueue({ path: custom }, { dataDir });
      t.after(() => q2.close());
      assert.equal(q2.path, custom);
      assert.deepEqual(bargePlugin.coreApi, [1]);
      assert.equal(bargePlugin.name, 'embedded');
    });
  });
});
