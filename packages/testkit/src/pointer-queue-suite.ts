/**
 * The contract suite every `PointerQueue` adapter must pass (embedded, Kafka, third-party).
 *
 *     describePointerQueue('embedded', async () => {
 *       const dir = await mkdtemp(join(tmpdir(), 'barge-'));
 *       const path = join(dir, 'pointers.sqlite');
 *       return {
 *         queue: new EmbeddedPointerQueue({ path }),
 *         reopen: async () => new EmbeddedPointerQueue({ path }),
 *         dispose: () => rm(dir, { recursive: true, force: true }),
 *       };
 *     }, { capabilities: { reopen: true } });
 *
 * Every test calls the factory once, uses random topic and group names, and cleans up what it
 * created (consumers, then `deleteTopics`, then the queue, then `dispose`). Waits are loops of
 * short polls bounded by `waitTimeoutMs`, never fixed sleeps, so the same suite runs against
 * a real Kafka broker whose rebalances take seconds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BatchPointer,
  type CommitPosition,
  type PointerConsumer,
  type PointerQueue,
  type PointerRecord,
  type PublishedPointer,
  readPartitionFor,
  type SubscribeOptions,
} from '@barge/core';
import { groupAdminTests } from './group-admin-suite.js';
import { readPartitionTests } from './read-partition-suite.js';
import { revokeTests } from './revoke-suite.js';
import { storedPositionTests } from './stored-positions-suite.js';

/** What the factory hands to one test. */
export interface PointerQueueTestContext {
  /** A fresh, open queue. The suite closes it (and any queue `reopen` returned) at the end. */
  readonly queue: PointerQueue;
  /**
   * Open a new queue over the same data, as a restarted process would. The suite has already
   * closed the previous queue when it calls this. Required when `capabilities.reopen` is true.
   */
  reopen?(): Promise<PointerQueue>;
  /**
   * Delete the topics a test created (Kafka: an admin `deleteTopics`). Called after the test's
   * consumers are closed and before `dispose`; it must not rely on `queue`, which a test may
   * have closed already. Optional: file-backed adapters can drop everything in `dispose`.
   */
  deleteTopics?(topics: readonly string[]): Promise<void>;
  /** Release what the factory made (temp directories, admin clients). Called last. */
  dispose?(): Promise<void>;
}

/** What the adapter can do beyond the contract; decides which groups of tests run. */
export interface PointerQueueCapabilities {
  /**
   * `reopen()` gives a queue over the same data: the embedded queue reopens its SQLite file,
   * Kafka connects a new client to the same cluster. Enables the durability tests.
   */
  readonly reopen: boolean;
}

export interface PointerQueueSuiteOptions {
  readonly capabilities?: Partial<PointerQueueCapabilities>;
  /** Read partitions of most test topics. At least 2. Default 3. */
  readonly readPartitions?: number;
  /** Read partitions of the three-member group test. At least 3. Default 6. */
  readonly groupPartitions?: number;
  /** Passed to every `subscribe`. Default: the adapter's. */
  readonly sessionTimeoutMs?: number;
  /** `timeoutMs` of each poll inside waiting loops. Default 200. */
  readonly pollTimeoutMs?: number;
  /** Upper bound of any wait for an assignment, a rebalance or data. Default 30 000. */
  readonly waitTimeoutMs?: number;
  /** `timeoutMs` of the polls that must come back empty. Default 300. */
  readonly emptyPollTimeoutMs?: number;
  /** node:test timeout of each test. Default 120 000. */
  readonly testTimeoutMs?: number;
  /** Prefix of the random topic and group names ([A-Za-z0-9._-]). Default `barge-test`. */
  readonly namePrefix?: string;
  /** Adapter-specific tests, declared inside the suite's `describe`. */
  readonly additionalTests?: (suite: PointerQueueSuite) => void;
}

export type ResolvedPointerQueueSuiteOptions = Required<
  Omit<PointerQueueSuiteOptions, 'capabilities' | 'additionalTests' | 'sessionTimeoutMs'>
> & {
  readonly capabilities: PointerQueueCapabilities;
  readonly sessionTimeoutMs: number | undefined;
};

/** Handed to `additionalTests`. */
export interface PointerQueueSuite {
  readonly options: ResolvedPointerQueueSuiteOptions;
  /** Calls the factory for test `t` and registers the cleanup of everything made through it. */
  setup(t: TestContext): Promise<PointerQueueHarness>;
}

/** A valid pointer for tests; `overrides` replace fields (and may make it invalid on purpose). */
export function testPointer(
  topic: string,
  writePartition: number,
  sequence: number,
  overrides: Partial<Record<keyof BatchPointer, unknown>> = {},
): BatchPointer {
  const now = Date.now();
  return {
    v: 1,
    topic,
    writePartition,
    sequence,
    brokerId: 1,
    storage: {
      adapter: 'local',
      location: '/tmp/barge-test',
      key: `${topic}/${writePartition}/${String(sequence).padStart(12, '0')}.batch`,
    },
    objectSize: 4096 + sequence,
    headerLength: 128,
    messageCount: 10 + (sequence % 7),
    chunkCount: 1,
    firstTimestamp: now - 5,
    lastTimestamp: now,
    createdAt: now,
    headerCrc: (writePartition * 7919 + sequence * 104729) >>> 0,
    ...overrides,
  } as BatchPointer;
}

/** A random name made of [A-Za-z0-9._-], unique per call. */
export function randomName(prefix = 'barge-test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** Asserts that `p` rejects with a Barge error of `code` (checked by `code`, not `instanceof`). */
export async function assertRejectsWithCode(p: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Error, `${what}: expected an Error, got ${String(e)}`);
    assert.equal(
      (e as { code?: unknown }).code,
      code,
      `${what}: expected code ${code}, got ${e.name}: ${e.message}`,
    );
    return true;
  });
}

/** A consumer plus everything it has polled, in order. */
export class TestMember {
  readonly records: PointerRecord[] = [];
  readonly assignments: (readonly number[])[] = [];

  constructor(
    readonly name: string,
    readonly consumer: PointerConsumer,
    readonly maxRecords = 7,
  ) {
    consumer.onAssignment((partitions) => this.assignments.push([...partitions].sort((a, b) => a - b)));
  }

  /** Sorted copy of the current assignment. */
  assignment(): number[] {
    return [...this.consumer.assignment()].sort((a, b) => a - b);
  }

  /**
   * One poll. With `checkOwnership`, asserts every record is on a partition assigned right
   * after the poll returns (only meaningful while no rebalance is under way).
   */
  async poll(timeoutMs: number, checkOwnership = false): Promise<PointerRecord[]> {
    const got = await this.consumer.poll({ timeoutMs, maxRecords: this.maxRecords });
    assert.ok(Array.isArray(got), `${this.name}: poll must resolve to an array`);
    assert.ok(
      got.length <= this.maxRecords,
      `${this.name}: poll returned ${got.length} records, more than maxRecords ${this.maxRecords}`,
    );
    if (checkOwnership) {
      const owned = new Set(this.consumer.assignment());
      for (const r of got) {
        assert.ok(
          owned.has(r.partition),
          `${this.name}: poll returned partition ${r.partition}, not in its assignment [${[...owned].join(', ')}]`,
        );
      }
    }
    this.records.push(...got);
    return got;
  }

  /** Offsets received per partition, in the order received, from record index `from`. */
  offsets(from = 0): Map<number, number[]> {
    const m = new Map<number, number[]>();
    for (const r of this.records.slice(from)) {
      const list = m.get(r.partition) ?? [];
      list.push(r.offset);
      m.set(r.partition, list);
    }
    return m;
  }
}

/** One test's view of the queue: random names, cleanup, helpers. */
export class PointerQueueHarness {
  #queue: PointerQueue;
  readonly #ctx: PointerQueueTestContext;
  readonly #topics: string[] = [];
  readonly #consumers: PointerConsumer[] = [];
  readonly #closedQueues = new Set<PointerQueue>();

  constructor(
    ctx: PointerQueueTestContext,
    readonly options: ResolvedPointerQueueSuiteOptions,
  ) {
    this.#ctx = ctx;
    this.#queue = ctx.queue;
  }

  /** The current queue (a new one after `reopen`). */
  get queue(): PointerQueue {
    return this.#queue;
  }

  /** Creates a topic with a random name and registers it for deletion. */
  async topic(readPartitions = this.options.readPartitions): Promise<string> {
    const name = randomName(this.options.namePrefix);
    this.#topics.push(name);
    await this.#queue.ensureTopic(name, readPartitions);
    return name;
  }

  /** A random group name. */
  group(): string {
    return randomName(`${this.options.namePrefix}-g`);
  }

  /** Subscribes and registers the consumer for closing. */
  async subscribe(options: Omit<SubscribeOptions, 'sessionTimeoutMs'>): Promise<PointerConsumer> {
    const consumer = await this.#queue.subscribe({
      clientId: randomName('client'),
      ...options,
      ...(this.options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
    });
    this.#consumers.push(consumer);
    return consumer;
  }

  /** Registers a consumer subscribed by the test itself for closing. */
  async adopt(subscribing: Promise<PointerConsumer>): Promise<PointerConsumer> {
    const consumer = await subscribing;
    this.#consumers.push(consumer);
    return consumer;
  }

  async member(name: string, options: Omit<SubscribeOptions, 'sessionTimeoutMs'>): Promise<TestMember> {
    return new TestMember(name, await this.subscribe(options));
  }

  /** Publishes and checks the shape of the result (one position per pointer, right partition). */
  async publish(topic: string, pointers: readonly BatchPointer[]): Promise<PublishedPointer[]> {
    const n = await this.#queue.partitions(topic);
    const out = await this.#queue.publish(topic, pointers);
    assert.equal(out.length, pointers.length, 'publish must return one position per pointer');
    out.forEach((pos, i) => {
      const wp = pointers[i]!.writePartition;
      assert.equal(
        pos.partition,
        readPartitionFor(wp, n),
        `pointer ${i} (write partition ${wp}) must land on read partition readPartitionFor(${wp}, ${n})`,
      );
      assert.ok(
        Number.isSafeInteger(pos.offset) && pos.offset >= 0,
        `offset ${pos.offset} must be an integer >= 0`,
      );
    });
    return out;
  }

  /** Closes the current queue and opens a new one over the same data. */
  async reopen(): Promise<PointerQueue> {
    assert.ok(this.#ctx.reopen, 'capabilities.reopen is set but the test context has no reopen()');
    for (const c of this.#consumers.splice(0)) await c.close();
    await this.#queue.close();
    this.#closedQueues.add(this.#queue);
    this.#queue = await this.#ctx.reopen();
    return this.#queue;
  }

  /** Polls `members` in rounds until `done()` holds; fails after `waitTimeoutMs`. */
  async pollUntil(
    members: readonly TestMember[],
    done: () => boolean,
    what: string | (() => string),
    checkOwnership = false,
  ): Promise<void> {
    const deadline = Date.now() + this.options.waitTimeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        const detail = members
          .map((m) => `${m.name}: assignment [${m.assignment().join(', ')}], ${m.records.length} records`)
          .join('; ');
        assert.fail(
          `timed out after ${this.options.waitTimeoutMs} ms waiting for ${typeof what === 'string' ? what : what()} (${detail})`,
        );
      }
      await Promise.all(members.map((m) => m.poll(this.options.pollTimeoutMs, checkOwnership)));
    }
  }

  /** Waits until the members' assignments are non-empty, disjoint and cover `partitions`. */
  async waitForSplit(members: readonly TestMember[], partitions: number): Promise<void> {
    await this.pollUntil(
      members,
      () => isSplit(members, partitions),
      () => `${members.length} members to split ${partitions} partitions`,
    );
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<void> | undefined) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const c of this.#consumers.splice(0).reverse()) await attempt(() => c.close());
    if (this.#topics.length > 0 && this.#ctx.deleteTopics) {
      const topics = this.#topics.splice(0);
      await attempt(() => this.#ctx.deleteTopics?.(topics));
    }
    if (!this.#closedQueues.has(this.#queue)) await attempt(() => this.#queue.close());
    await attempt(() => this.#ctx.dispose?.());
    if (errors.length > 0) throw new AggregateError(errors, 'pointer queue test cleanup failed');
  }
}

function isSplit(members: readonly TestMember[], partitions: number): boolean {
  const seen = new Set<number>();
  for (const m of members) {
    const a = m.consumer.assignment();
    if (a.length === 0) return false;
    for (const p of a) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  }
  return seen.size === partitions && [...seen].every((p) => p >= 0 && p < partitions);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Resolves `p`, or fails when it takes longer than `ms` (a bound, not a timing assertion). */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new assert.AssertionError({ message: `${what} did not settle in ${ms} ms` })),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Publishes `perWritePartition` pointers to each of `writePartitions`, one call per sequence. */
async function publishGrid(
  h: PointerQueueHarness,
  topic: string,
  writePartitions: number,
  perWritePartition: number,
  firstSequence = 0,
): Promise<{ pointers: BatchPointer[]; positions: PublishedPointer[] }> {
  const pointers: BatchPointer[] = [];
  const positions: PublishedPointer[] = [];
  for (let s = firstSequence; s < firstSequence + perWritePartition; s++) {
    const batch = range(0, writePartitions).map((wp) => testPointer(topic, wp, s));
    positions.push(...(await h.publish(topic, batch)));
    pointers.push(...batch);
  }
  return { pointers, positions };
}

/** `partition/offset` → pointer, from a publish. */
function index(
  pointers: readonly BatchPointer[],
  positions: readonly PublishedPointer[],
): Map<string, BatchPointer> {
  const m = new Map<string, BatchPointer>();
  positions.forEach((pos, i) => {
    m.set(`${pos.partition}/${pos.offset}`, pointers[i]!);
  });
  return m;
}

/** Asserts `records` hold exactly the published pointers, each once, in offset order per partition. */
function assertExactlyOnceInOrder(
  records: readonly PointerRecord[],
  published: Map<string, BatchPointer>,
): void {
  const seen = new Set<string>();
  const last = new Map<number, number>();
  for (const r of records) {
    const key = `${r.partition}/${r.offset}`;
    assert.ok(!seen.has(key), `pointer ${key} delivered twice`);
    seen.add(key);
    const prev = last.get(r.partition);
    assert.ok(
      prev === undefined || r.offset > prev,
      `partition ${r.partition}: offset ${r.offset} came after ${prev}`,
    );
    last.set(r.partition, r.offset);
    const expected = published.get(key);
    assert.ok(expected, `pointer ${key} was delivered but never published`);
    assert.deepEqual(r.pointer, expected, `pointer ${key} differs from what was published`);
    assert.ok(Number.isSafeInteger(r.timestamp) && r.timestamp > 0, `record ${key} needs a timestamp`);
  }
  const missing = [...published.keys()].filter((k) => !seen.has(k));
  assert.deepEqual(missing, [], 'pointers published but never delivered');
}

function assertCommitted(
  actual: CommitPosition | undefined,
  expected: CommitPosition | undefined,
  what: string,
): void {
  if (expected === undefined) {
    assert.equal(actual, undefined, `${what}: nothing was committed`);
    return;
  }
  assert.ok(actual, `${what}: expected a committed position`);
  assert.equal(actual.partition, expected.partition, `${what}: partition`);
  assert.equal(actual.offset, expected.offset, `${what}: offset`);
  assert.equal(actual.messageIndex ?? 0, expected.messageIndex ?? 0, `${what}: messageIndex`);
}

function resolveOptions(options: PointerQueueSuiteOptions): ResolvedPointerQueueSuiteOptions {
  const resolved: ResolvedPointerQueueSuiteOptions = {
    capabilities: { reopen: false, ...options.capabilities },
    readPartitions: options.readPartitions ?? 3,
    groupPartitions: options.groupPartitions ?? 6,
    sessionTimeoutMs: options.sessionTimeoutMs,
    pollTimeoutMs: options.pollTimeoutMs ?? 200,
    waitTimeoutMs: options.waitTimeoutMs ?? 30_000,
    emptyPollTimeoutMs: options.emptyPollTimeoutMs ?? 300,
    testTimeoutMs: options.testTimeoutMs ?? 120_000,
    namePrefix: options.namePrefix ?? 'barge-test',
  };
  if (!Number.isInteger(resolved.readPartitions) || resolved.readPartitions < 2) {
    throw new RangeError(
      `describePointerQueue: readPartitions must be an integer >= 2, got ${resolved.readPartitions}`,
    );
  }
  if (!Number.isInteger(resolved.groupPartitions) || resolved.groupPartitions < 3) {
    throw new RangeError(
      `describePointerQueue: groupPartitions must be an integer >= 3, got ${resolved.groupPartitions}`,
    );
  }
  if (!/^[A-Za-z0-9._-]+$/.test(resolved.namePrefix)) {
    throw new RangeError(
      `describePointerQueue: namePrefix must match [A-Za-z0-9._-]+, got ${resolved.namePrefix}`,
    );
  }
  return resolved;
}

/** Declares the contract suite for one adapter. */
export function describePointerQueue(
  name: string,
  factory: () => Promise<PointerQueueTestContext>,
  suiteOptions: PointerQueueSuiteOptions = {},
): void {
  const o = resolveOptions(suiteOptions);
  const N = o.readPartitions;
  const suite: PointerQueueSuite = {
    options: o,
    async setup(t) {
      const h = new PointerQueueHarness(await factory(), o);
      t.after(() => h.cleanup());
      return h;
    },
  };
  const test = (title: string, fn: (h: PointerQueueHarness) => Promise<void>, skip?: string) =>
    it(title, { timeout: o.testTimeoutMs, ...(skip ? { skip } : {}) }, async (t) => fn(await suite.setup(t)));
  const noReopen = o.capabilities.reopen ? undefined : 'adapter cannot reopen its data (capabilities.reopen)';

  describe(`PointerQueue contract: ${name}`, () => {
    describe('topics', () => {
      test('ensureTopic creates the topic with the given read partitions', async (h) => {
        const topic = await h.topic(N);
        assert.equal(await h.queue.partitions(topic), N);
        assert.equal(typeof h.queue.adapter, 'string');
        assert.ok(h.queue.adapter.length > 0, 'adapter name must not be empty');
      });

      test('ensureTopic is idempotent and keeps what was published', async (h) => {
        const topic = await h.topic(N);
        const [pos] = await h.publish(topic, [testPointer(topic, 0, 0)]);
        await h.queue.ensureTopic(topic, N);
        await h.queue.ensureTopic(topic, N);
        assert.equal(await h.queue.partitions(topic), N);
        const wm = await h.queue.watermarks(topic, pos!.partition);
        assert.equal(wm.high, pos!.offset + 1, 'ensureTopic on an existing topic must not drop pointers');
      });

      test('ensureTopic with another partition count throws ConfigError', async (h) => {
        const topic = await h.topic(N);
        await assertRejectsWithCode(h.queue.ensureTopic(topic, N + 1), 'CONFIG', 'more partitions');
        await assertRejectsWithCode(h.queue.ensureTopic(topic, N - 1), 'CONFIG', 'fewer partitions');
        assert.equal(await h.queue.partitions(topic), N, 'a rejected ensureTopic must not change the topic');
      });

      test('partitions() of an unknown topic throws NotFoundError', async (h) => {
        await assertRejectsWithCode(
          h.queue.partitions(randomName(o.namePrefix)),
          'NOT_FOUND',
          'unknown topic',
        );
      });
    });

    describe('publish', () => {
      test('returns a contiguous offset per pointer on readPartitionFor(writePartition)', async (h) => {
        const topic = await h.topic(N);
        const before = await Promise.all(range(0, N).map((p) => h.queue.watermarks(topic, p)));
        for (const wm of before) assert.equal(wm.low, wm.high, 'a new topic is empty');
        assert.deepEqual(await h.queue.publish(topic, []), [], 'publishing nothing returns nothing');
        // Write partitions 0..N+1: two of them share a read partition with another.
        const wps = N + 2;
        const first = await publishGrid(h, topic, wps, 2);
        const second = await publishGrid(h, topic, wps, 3, 2);
        const next = before.map((wm) => wm.high);
        for (const pos of [...first.positions, ...second.positions]) {
          assert.equal(
            pos.offset,
            next[pos.partition],
            `partition ${pos.partition}: offsets must be contiguous`,
          );
          next[pos.partition]! += 1;
        }
        for (let p = 0; p < N; p++) {
          const wm = await h.queue.watermarks(topic, p);
          assert.equal(wm.low, before[p]!.low, `partition ${p}: low watermark`);
          assert.equal(wm.high, next[p], `partition ${p}: high watermark`);
        }
      });

      test('pointers of one write partition stay in order on one read partition', async (h) => {
        const topic = await h.topic(N);
        const wp = N + 1; // not equal to its read partition
        const pointers = range(0, 10).map((s) => testPointer(topic, wp, s));
        const positions = await h.publish(topic, pointers);
        const partition = readPartitionFor(wp, N);
        positions.forEach((pos, i) => {
          assert.equal(pos.partition, partition);
          assert.equal(pos.offset, positions[0]!.offset + i, 'in the order given');
        });
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.records.length >= pointers.length, 'the pointers');
        assert.deepEqual(
          m.records.map((r) => [r.partition, r.pointer.sequence]),
          pointers.map((p) => [partition, p.sequence]),
        );
      });

      test('watermarks move by the number of pointers published to each partition', async (h) => {
        const topic = await h.topic(N);
        const before = await Promise.all(range(0, N).map((p) => h.queue.watermarks(topic, p)));
        await h.publish(
          topic,
          range(0, 4).map((s) => testPointer(topic, 0, s)),
        );
        await h.publish(topic, [testPointer(topic, 1, 0)]);
        const after = await Promise.all(range(0, N).map((p) => h.queue.watermarks(topic, p)));
        const added = new Map([
          [readPartitionFor(0, N), 4],
          [readPartitionFor(1, N), 1],
        ]);
        for (let p = 0; p < N; p++) {
          assert.equal(after[p]!.low, before[p]!.low, `partition ${p}: low stays`);
          assert.equal(after[p]!.high, before[p]!.high + (added.get(p) ?? 0), `partition ${p}: high`);
        }
      });

      test('offsetForTimestamp finds the first pointer appended at or after a time', async (h) => {
        const topic = await h.topic(N);
        const start = Date.now();
        const a = await h.publish(
          topic,
          range(0, 3).map((s) => testPointer(topic, 0, s)),
        );
        await sleep(40);
        const middle = Date.now();
        await sleep(40);
        const b = await h.publish(
          topic,
          range(3, 6).map((s) => testPointer(topic, 0, s)),
        );
        const p = a[0]!.partition;
        const { low, high } = await h.queue.watermarks(topic, p);
        assert.equal(
          await h.queue.offsetForTimestamp(topic, p, start - 3_600_000),
          low,
          'before everything → low',
        );
        assert.equal(
          await h.queue.offsetForTimestamp(topic, p, Date.now() + 3_600_000),
          high,
          'after everything → high',
        );
        assert.equal(await h.queue.offsetForTimestamp(topic, p, middle), b[0]!.offset, 'in the middle');
        // The records carry the append times the lookup used.
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.records.length >= 6, 'the pointers');
        for (const r of m.records) {
          if (r.offset < b[0]!.offset)
            assert.ok(r.timestamp < middle, `offset ${r.offset} appended before the middle`);
          else assert.ok(r.timestamp >= middle, `offset ${r.offset} appended after the middle`);
          const at = await h.queue.offsetForTimestamp(topic, p, r.timestamp);
          assert.ok(at <= r.offset, `offsetForTimestamp(${r.timestamp}) = ${at} is after offset ${r.offset}`);
        }
      });
    });

    describe('consumer groups', () => {
      test('a single member reads everything exactly once, in order per partition', async (h) => {
        const topic = await h.topic(N);
        const { pointers, positions } = await publishGrid(h, topic, N + 2, 4);
        const published = index(pointers, positions);
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.records.length >= pointers.length, 'every pointer', true);
        assert.deepEqual(m.assignment(), range(0, N), 'a single member owns every partition');
        assert.deepEqual(await m.poll(o.emptyPollTimeoutMs), [], 'nothing more to read');
        assertExactlyOnceInOrder(m.records, published);
        // One write partition's pointers keep their sequence order.
        const seqs = new Map<number, number[]>();
        for (const r of m.records)
          seqs.set(r.pointer.writePartition, [
            ...(seqs.get(r.pointer.writePartition) ?? []),
            r.pointer.sequence,
          ]);
        for (const [wp, s] of seqs)
          assert.deepEqual(s, [0, 1, 2, 3], `write partition ${wp} in sequence order`);
      });

      test('a new member resumes at the committed position, messageIndex included', async (h) => {
        const topic = await h.topic(N);
        const { pointers, positions } = await publishGrid(h, topic, N, 4);
        const group = h.group();
        const first = await h.member('first', { group, topic });
        await h.pollUntil([first], () => first.records.length >= pointers.length, 'every pointer');
        const parts = range(0, N);
        for (const c of await first.consumer.committed(parts))
          assert.equal(c, undefined, 'nothing committed yet');
        const low0 = (await h.queue.watermarks(topic, 0)).low;
        const high1 = (await h.queue.watermarks(topic, 1)).high;
        // Partition 0: halfway, inside a batch; 1: all done; the rest: nothing committed.
        await first.consumer.commit([{ partition: 0, offset: low0 + 1 }]);
        await first.consumer.commit([
          { partition: 0, offset: low0 + 2, messageIndex: 5 },
          { partition: 1, offset: high1 },
        ]);
        const expected: (CommitPosition | undefined)[] = parts.map(() => undefined);
        expected[0] = { partition: 0, offset: low0 + 2, messageIndex: 5 };
        expected[1] = { partition: 1, offset: high1 };
        const check = (got: (CommitPosition | undefined)[], who: string) => {
          assert.equal(got.length, parts.length, `${who}: one answer per partition`);
          for (const p of parts) assertCommitted(got[p], expected[p], `${who}, partition ${p}`);
        };
        check(await first.consumer.committed(parts), 'the committing member');
        await first.consumer.close();

        const second = await h.member('second', { group, topic });
        check(await second.consumer.committed(parts), 'a new member');
        const published = index(pointers, positions);
        const want = new Map<string, BatchPointer>();
        for (const [k, v] of published) {
          const [p, off] = k.split('/').map(Number) as [number, number];
          if (p === 0 ? off >= low0 + 2 : p !== 1) want.set(k, v);
        }
        await h.pollUntil([second], () => second.records.length >= want.size, 'the uncommitted pointers');
        assert.deepEqual(
          await second.poll(o.emptyPollTimeoutMs),
          [],
          'nothing before the committed positions',
        );
        assertExactlyOnceInOrder(second.records, want);
      });

      test('two groups each read everything independently', async (h) => {
        const topic = await h.topic(N);
        const { pointers, positions } = await publishGrid(h, topic, N, 3);
        const published = index(pointers, positions);
        const a = await h.member('a', { group: h.group(), topic });
        const b = await h.member('b', { group: h.group(), topic });
        await h.pollUntil([a], () => a.records.length >= pointers.length, 'group a to read everything');
        const highs = await Promise.all(range(0, N).map((p) => h.queue.watermarks(topic, p)));
        await a.consumer.commit(highs.map((wm, p) => ({ partition: p, offset: wm.high })));
        await h.pollUntil([b], () => b.records.length >= pointers.length, 'group b to read everything');
        assertExactlyOnceInOrder(a.records, published);
        assertExactlyOnceInOrder(b.records, published);
        const bc = await b.consumer.committed(range(0, N));
        bc.forEach((c, p) => {
          assert.equal(c, undefined, `group b, partition ${p}: group a's commit is not b's`);
        });
      });

      test('fromBeginning: false starts partitions without a commit at the end', async (h) => {
        const topic = await h.topic(N);
        const old = await publishGrid(h, topic, N, 2);
        const m = await h.member('latest', { group: h.group(), topic, fromBeginning: false });
        await h.pollUntil([m], () => m.consumer.assignment().length === N, 'the assignment');
        await m.poll(o.pollTimeoutMs);
        const fresh = await publishGrid(h, topic, N, 2, 2);
        await h.pollUntil([m], () => m.records.length >= fresh.positions.length, 'the new pointers');
        assert.deepEqual(await m.poll(o.emptyPollTimeoutMs), []);
        assertExactlyOnceInOrder(m.records, index(fresh.pointers, fresh.positions));
        assert.equal(old.positions.length, N * 2);
      });

      test('three members split the partitions; a leaver’s partitions move on, at least once', async (h) => {
        const P = o.groupPartitions;
        const K = 4;
        const topic = await h.topic(P);
        const group = h.group();
        const members = [
          await h.member('a', { group, topic }),
          await h.member('b', { group, topic }),
          await h.member('c', { group, topic }),
        ];
        const [a, b, c] = members as [TestMember, TestMember, TestMember];
        await h.waitForSplit(members, P);
        const { pointers, positions } = await publishGrid(h, topic, P, K);
        const published = index(pointers, positions);
        const total = () => members.reduce((n, m) => n + m.records.length, 0);
        await h.pollUntil(members, () => total() >= pointers.length, 'every pointer', true);
        await Promise.all(members.map((m) => m.poll(o.emptyPollTimeoutMs, true)));
        assert.ok(isSplit(members, P), 'the assignment stayed split while reading');
        assertExactlyOnceInOrder(
          members.flatMap((m) => m.records),
          published,
        );

        // a and b commit everything they read; c commits half of each of its partitions.
        const committed = new Map<number, CommitPosition>();
        for (const m of members) {
          const positionsToCommit: CommitPosition[] = [];
          for (const [p, offs] of m.offsets()) {
            const pos: CommitPosition =
              m === c
                ? { partition: p, offset: offs[Math.floor(offs.length / 2)]!, messageIndex: 1 }
                : { partition: p, offset: offs[offs.length - 1]! + 1 };
            positionsToCommit.push(pos);
            committed.set(p, pos);
          }
          await m.consumer.commit(positionsToCommit);
        }
        assert.equal(committed.size, P, 'every partition had pointers');
        const cPartitions = c.assignment();
        const before = { a: a.assignment(), b: b.assignment() };
        const marks = { a: a.records.length, b: b.records.length };
        const calls = { a: a.assignments.length, b: b.assignments.length };
        await c.consumer.close();

        const high = K; // each partition got K pointers from a fresh topic
        const lowOf = new Map<number, number>();
        for (let p = 0; p < P; p++) lowOf.set(p, (await h.queue.watermarks(topic, p)).low);
        const redelivered = () => {
          const got = new Map<number, Set<number>>();
          for (const [m, from] of [
            [a, marks.a],
            [b, marks.b],
          ] as const) {
            for (const [p, offs] of m.offsets(from)) {
              const s = got.get(p) ?? new Set<number>();
              for (const off of offs) s.add(off);
              got.set(p, s);
            }
          }
          return got;
        };
        await h.pollUntil(
          [a, b],
          () => {
            if (!isSplit([a, b], P)) return false;
            const got = redelivered();
            return cPartitions.every((p) => {
              const from = committed.get(p)!.offset;
              return range(from, lowOf.get(p)! + high).every((off) => got.get(p)?.has(off));
            });
          },
          "c's partitions to move to a and b, with c's uncommitted pointers",
        );
        await Promise.all([a.poll(o.emptyPollTimeoutMs, true), b.poll(o.emptyPollTimeoutMs, true)]);
        for (const [p, offs] of redelivered()) {
          const from = committed.get(p)!.offset;
          for (const off of offs) {
            assert.ok(off >= from, `partition ${p}: offset ${off} redelivered though ${from} was committed`);
          }
          assert.deepEqual(
            [...offs].sort((x, y) => x - y),
            range(from, lowOf.get(p)! + high),
            `partition ${p}: delivered after the rebalance`,
          );
        }
        // c's commits outlive c.
        const after = await a.consumer.committed(range(0, P));
        for (let p = 0; p < P; p++)
          assertCommitted(after[p], committed.get(p), `partition ${p} after c left`);
        // Listeners saw the new assignment.
        for (const [m, was, n] of [
          [a, before.a, calls.a],
          [b, before.b, calls.b],
        ] as const) {
          const now = m.assignment();
          if (now.join() !== was.join()) {
            assert.ok(
              m.assignments.length > n,
              `${m.name}: onAssignment not called after its assignment changed`,
            );
            assert.deepEqual(m.assignments.at(-1), now, `${m.name}: onAssignment got the final assignment`);
          }
        }
      });

      test('commit on a partition this member does not own throws GroupRebalanceError', async (h) => {
        const topic = await h.topic(N);
        const group = h.group();
        const a = await h.member('a', { group, topic });
        const b = await h.member('b', { group, topic });
        await h.waitForSplit([a, b], N);
        const mine = a.assignment()[0]!;
        const theirs = b.assignment()[0]!;
        await assertRejectsWithCode(
          a.consumer.commit([{ partition: theirs, offset: 0 }]),
          'REBALANCE',
          `commit of b's partition ${theirs} by a`,
        );
        await assertRejectsWithCode(
          a.consumer.commit([
            { partition: mine, offset: 0 },
            { partition: theirs, offset: 0 },
          ]),
          'REBALANCE',
          'commit of a mix of owned and foreign partitions',
        );
        assert.equal((await b.consumer.committed([theirs]))[0], undefined, 'the refused commit left nothing');
        await a.consumer.commit([{ partition: mine, offset: 0, messageIndex: 3 }]);
        assertCommitted(
          (await b.consumer.committed([mine]))[0],
          { partition: mine, offset: 0, messageIndex: 3 },
          'a',
        );
        // Once b leaves, a owns b's partitions and may commit them.
        await b.consumer.close();
        await h.pollUntil([a], () => a.consumer.assignment().length === N, "b's partitions to move to a");
        await a.consumer.commit([{ partition: theirs, offset: 0, messageIndex: 2 }]);
        assertCommitted(
          (await a.consumer.committed([theirs]))[0],
          { partition: theirs, offset: 0, messageIndex: 2 },
          'b',
        );
      });

      test('seek moves the read position of an assigned partition', async (h) => {
        const topic = await h.topic(N);
        const pos = await h.publish(
          topic,
          range(0, 6).map((s) => testPointer(topic, 0, s)),
        );
        const p = pos[0]!.partition;
        const first = pos[0]!.offset;
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.records.length >= 6, 'the pointers');
        const seekAndRead = async (offset: number) => {
          const from = m.records.length;
          m.consumer.seek(p, offset);
          const want = first + 6 - offset;
          await h.pollUntil([m], () => m.records.length - from >= want, `the pointers from offset ${offset}`);
          return m.records.slice(from).map((r) => [r.partition, r.offset, r.pointer.sequence]);
        };
        assert.deepEqual(
          await seekAndRead(first + 2),
          range(2, 6).map((s) => [p, first + s, s]),
          'back',
        );
        assert.deepEqual(
          await seekAndRead(first),
          range(0, 6).map((s) => [p, first + s, s]),
          'to the start',
        );
        m.consumer.seek(p, first + 1);
        m.consumer.seek(p, first + 5);
        assert.deepEqual(await seekAndRead(first + 5), [[p, first + 5, 5]], 'the last seek wins');
      });

      test('poll with a timeout returns [] when nothing arrives', async (h) => {
        const topic = await h.topic(N);
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.consumer.assignment().length === N, 'the assignment');
        const got = await bounded(
          m.consumer.poll({ timeoutMs: o.emptyPollTimeoutMs }),
          o.emptyPollTimeoutMs + o.waitTimeoutMs,
          'an empty poll',
        );
        assert.deepEqual(got, []);
        const none = await bounded(
          m.consumer.poll({ timeoutMs: 0 }),
          o.waitTimeoutMs,
          'a poll with timeout 0',
        );
        assert.deepEqual(none, []);
      });

      test('publishing wakes a consumer waiting in poll', async (h) => {
        const topic = await h.topic(N);
        const m = await h.member('m', { group: h.group(), topic });
        await h.pollUntil([m], () => m.consumer.assignment().length === N, 'the assignment');
        await m.poll(o.pollTimeoutMs);
        // The poll's own timeout is far longer than the bound: only a wake-up can meet it.
        const waiting = m.consumer.poll({ timeoutMs: 4 * o.waitTimeoutMs, maxRecords: 10 });
        await sleep(50);
        const pointer = testPointer(topic, 1, 0);
        const [pos] = await h.publish(topic, [pointer]);
        const got = await bounded(waiting, o.waitTimeoutMs, 'a poll waiting while a pointer is published');
        assert.equal(got.length, 1, 'the waiting poll returns the new pointer, not an empty timeout');
        assert.equal(got[0]!.partition, pos!.partition);
        assert.equal(got[0]!.offset, pos!.offset);
        assert.deepEqual(got[0]!.pointer, pointer);
      });

      test('close is idempotent and hands the partitions to the rest of the group', async (h) => {
        const topic = await h.topic(N);
        const group = h.group();
        const a = await h.member('a', { group, topic });
        const b = await h.member('b', { group, topic });
        await h.waitForSplit([a, b], N);
        await Promise.all([b.consumer.close(), b.consumer.close()]);
        assert.equal(await b.consumer.close(), undefined);
        await h.pollUntil([a], () => a.consumer.assignment().length === N, "b's partitions to move to a");
        assert.deepEqual(a.assignment(), range(0, N));
        const q = h.queue;
        await a.consumer.close();
        await q.close();
        assert.equal(await q.close(), undefined, 'a second close resolves');
      });
    });

    describe('group administration', () => groupAdminTests(test, o));
    describe('stored positions', () => storedPositionTests(test, o, noReopen));
    describe('revoke phase', () => revokeTests(test, o));
    describe('reading a partition outside a group', () => readPartitionTests(test));

    describe('durability', () => {
      test(
        'pointers and committed positions survive a reopen',
        async (h) => {
          const topic = await h.topic(N);
          const { pointers, positions } = await publishGrid(h, topic, N, 3);
          const group = h.group();
          const m = await h.member('before', { group, topic });
          await h.pollUntil([m], () => m.records.length >= pointers.length, 'every pointer');
          const low0 = (await h.queue.watermarks(topic, 0)).low;
          await m.consumer.commit([{ partition: 0, offset: low0 + 1, messageIndex: 4 }]);
          const wms = await Promise.all(range(0, N).map((p) => h.queue.watermarks(topic, p)));
          const t = await h.queue.offsetForTimestamp(topic, 0, Date.now() + 3_600_000);

          const q = await h.reopen();
          assert.equal(await q.partitions(topic), N);
          assert.deepEqual(await Promise.all(range(0, N).map((p) => q.watermarks(topic, p))), wms);
          assert.equal(await q.offsetForTimestamp(topic, 0, Date.now() + 3_600_000), t);
          const after = await h.member('after', { group, topic });
          assertCommitted(
            (await after.consumer.committed([0]))[0],
            { partition: 0, offset: low0 + 1, messageIndex: 4 },
            'after reopen',
          );
          const published = index(pointers, positions);
          const want = new Map(
            [...published].filter(([k]) => !k.startsWith('0/') || Number(k.slice(2)) >= low0 + 1),
          );
          await h.pollUntil([after], () => after.records.length >= want.size, 'the uncommitted pointers');
          assertExactlyOnceInOrder(after.records, want);
          // New pointers continue the offsets; nothing is reused.
          const [next] = await h.publish(topic, [testPointer(topic, 0, 99)]);
          assert.equal(next!.offset, wms[0]!.high);
        },
        noReopen,
      );
    });

    suiteOptions.additionalTests?.(suite);
  });
}
