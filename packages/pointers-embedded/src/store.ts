import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  BargeError,
  ConfigError,
  CorruptDataError,
  decodePointer,
  errorMessage,
  type PointerRecord,
  type PublishedPointer,
  readPartitionFor,
  type TopicCommitPosition,
} from '@barge/core';
import Database from 'better-sqlite3';
import type { CommitTarget } from './committer.js';
import { mapSqliteError } from './sqlite-errors.js';
import { WalFile } from './wal-file.js';

/** Schema version stored in `meta`; bump with a migration when the tables change. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS topics (
  name TEXT PRIMARY KEY,
  partitions INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
-- One row per read partition: [low, high) and the last append time (kept monotonic).
CREATE TABLE IF NOT EXISTS partitions (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  low INTEGER NOT NULL,
  high INTEGER NOT NULL,
  last_timestamp INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pointers (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  "offset" INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  pointer TEXT NOT NULL,
  PRIMARY KEY (topic, partition, "offset")
) STRICT;
CREATE INDEX IF NOT EXISTS pointers_by_time ON pointers (topic, partition, timestamp, "offset");
CREATE TABLE IF NOT EXISTS committed (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  "offset" INTEGER NOT NULL,
  message_index INTEGER,
  metadata TEXT,
  committed_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) STRICT, WITHOUT ROWID;
`;

function prepareStatements(db: Database.Database) {
  return {
    topic: db.prepare<[string], { partitions: number }>('SELECT partitions FROM topics WHERE name = ?'),
    topics: db.prepare<[], { name: string; partitions: number }>(
      'SELECT name, partitions FROM topics ORDER BY name',
    ),
    insertTopic: db.prepare<[string, number, number]>(
      'INSERT INTO topics (name, partitions, created_at) VALUES (?, ?, ?)',
    ),
    insertPartition: db.prepare<[string, number]>(
      'INSERT INTO partitions (topic, partition, low, high, last_timestamp) VALUES (?, ?, 0, 0, 0)',
    ),
    partition: db.prepare<[string, number], PartitionRow>(
      'SELECT low, high, last_timestamp FROM partitions WHERE topic = ? AND partition = ?',
    ),
    setHigh: db.prepare<[number, number, string, number]>(
      'UPDATE partitions SET high = ?, last_timestamp = ? WHERE topic = ? AND partition = ?',
    ),
    setLow: db.prepare<[number, string, number]>(
      'UPDATE partitions SET low = ? WHERE topic = ? AND partition = ?',
    ),
    insertPointer: db.prepare<[string, number, number, number, string]>(
      'INSERT INTO pointers (topic, partition, "offset", timestamp, pointer) VALUES (?, ?, ?, ?, ?)',
    ),
    read: db.prepare<[string, number, number, number], PointerRow>(
      'SELECT "offset", timestamp, pointer FROM pointers WHERE topic = ? AND partition = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?',
    ),
    atTime: db.prepare<[string, number, number], { offset: number }>(
      'SELECT "offset" FROM pointers WHERE topic = ? AND partition = ? AND timestamp >= ? ORDER BY timestamp, "offset" LIMIT 1',
    ),
    deleteBefore: db.prepare<[string, number, number]>(
      'DELETE FROM pointers WHERE topic = ? AND partition = ? AND "offset" < ?',
    ),
    committed: db.prepare<[string, string, number], CommittedRow>(
      'SELECT "offset", message_index FROM committed WHERE group_id = ? AND topic = ? AND partition = ?',
    ),
    committedOfGroup: db.prepare<
      [string],
      CommittedRow & { topic: string; partition: number; metadata: string | null }
    >(
      'SELECT topic, partition, "offset", message_index, metadata FROM committed WHERE group_id = ? ORDER BY topic, partition',
    ),
    committedGroups: db.prepare<[], { group_id: string; topic: string }>(
      'SELECT DISTINCT group_id, topic FROM committed ORDER BY group_id, topic',
    ),
    commit: db.prepare<[string, string, number, number, number | null, string | null, number]>(
      `INSERT INTO committed (group_id, topic, partition, "offset", message_index, metadata, committed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET
         "offset" = excluded."offset", message_index = excluded.message_index,
         metadata = excluded.metadata, committed_at = excluded.committed_at`,
    ),
  };
}

interface PartitionRow {
  low: number;
  high: number;
  last_timestamp: number;
}

interface PointerRow {
  offset: number;
  timestamp: number;
  pointer: string;
}

interface CommittedRow {
  offset: number;
  message_index: number | null;
}

export interface PublishItem {
  writePartition: number;
  /** The validated pointer, as JSON. */
  json: string;
}

export interface StoredCommit {
  partition: number;
  offset: number;
  messageIndex?: number;
  metadata?: string;
}

/**
 * Synchronous SQLite access for the embedded queue: schema, prepared statements, one
 * transaction per write call, and SQLite errors mapped to core errors. WAL with
 * `synchronous=NORMAL` plus our own `fdatasync` of the log (`sync()`, see `WalFile`): a write is
 * durable (crash, power loss) once a `sync()` that started after its commit has resolved. The
 * connection holds an exclusive lock on the file for as long as it is open, so a second process
 * (or a second queue in this process) cannot serve the same file.
 *
 * Readers see pointers only once they are durable: `markDurable` moves a partition's visible
 * high watermark, and reads, watermarks and time lookups stop there, so no consumer can see an
 * offset that a power cut could take back and hand to another batch.
 */
export class PointerStore implements CommitTarget {
  readonly #db: Database.Database;
  readonly #wal: WalFile | undefined;
  /** Durable high watermark of each partition written since open (absent: the stored high is durable). */
  readonly #durableHigh = new Map<string, number>();
  readonly #groupTx: Database.Transaction<(fn: () => void) => void>;
  readonly #savepointTx: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #s: ReturnType<typeof prepareStatements>;
  readonly #publishTx: Database.Transaction<
    (topic: string, partitions: number, items: readonly PublishItem[]) => PublishedPointer[]
  >;
  readonly #commitTx: Database.Transaction<
    (group: string, topic: string, positions: readonly StoredCommit[]) => void
  >;
  readonly #createTopicTx: Database.Transaction<(topic: string, partitions: number) => number>;
  readonly #deleteBeforeTx: Database.Transaction<
    (topic: string, partition: number, offset: number) => { deleted: number; low: number }
  >;

  constructor(
    readonly path: string,
    busyTimeoutMs: number,
  ) {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: busyTimeoutMs });
    } catch (e) {
      throw new ConfigError(
        `pointers.path: cannot open SQLite database ${path}: ${errorMessage(e)}`,
        'pointers.path',
        {
          cause: e,
        },
      );
    }
    try {
      // Exclusive before WAL: no shared-memory index, and the file is ours until close.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      // Commits do not wait for the disk; `sync()` makes them durable off the event loop.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Take the write lock now, so a second opener fails here rather than later.
      db.exec('BEGIN EXCLUSIVE');
      db.exec(SCHEMA);
      const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get();
      if (version === undefined) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
      } else if (version.value !== String(SCHEMA_VERSION)) {
        throw new ConfigError(
          `pointers.path: ${path} has schema version ${version.value}; this version of @barge/pointers-embedded reads ${SCHEMA_VERSION}`,
          'pointers.path',
        );
      }
      db.exec('COMMIT');
      if (path !== ':memory:') {
        this.#wal = new WalFile(`${path}-wal`);
        // Commits a crash left in the page cache only: durable before anyone reads them.
        this.#wal.syncNowIfPresent();
      }
    } catch (e) {
      db.close();
      if (e instanceof BargeError) throw e;
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) {
        throw new ConfigError(
          `pointers.path: ${path} is in use by another embedded pointer queue (another broker process, or a second queue in this one)`,
          'pointers.path',
          { cause: e },
        );
      }
      throw mapSqliteError(e, `open ${path}`);
    }
    this.#db = db;

    this.#s = prepareStatements(db);
    this.#groupTx = db.transaction((fn: () => void) => fn());
    this.#savepointTx = db.transaction((fn: () => unknown) => fn());

    this.#createTopicTx = db.transaction((topic: string, partitions: number): number => {
      const existing = this.#s.topic.get(topic);
      if (existing) return existing.partitions;
      this.#s.insertTopic.run(topic, partitions, Date.now());
      for (let p = 0; p < partitions; p++) this.#s.insertPartition.run(topic, p);
      return partitions;
    });

    this.#publishTx = db.transaction((topic: string, partitions: number, items: readonly PublishItem[]) => {
      const now = Date.now();
      const state = new Map<number, PartitionRow>();
      const out: PublishedPointer[] = [];
      for (const item of items) {
        const partition = readPartitionFor(item.writePartition, partitions);
        let st = state.get(partition);
        if (!st) {
          st = this.#partitionRow(topic, partition);
          const k = partitionKey(topic, partition);
          if (!this.#durableHigh.has(k)) this.#durableHigh.set(k, st.high);
          // Append times never go backwards within a partition, so offsetForTimestamp can
          // use the time index even if the wall clock steps back.
          st.last_timestamp = Math.max(now, st.last_timestamp);
          state.set(partition, st);
        }
        const offset = st.high++;
        this.#s.insertPointer.run(topic, partition, offset, st.last_timestamp, item.json);
        out.push({ partition, offset });
      }
      for (const [partition, st] of state) this.#s.setHigh.run(st.high, st.last_timestamp, topic, partition);
      return out;
    });

    this.#deleteBeforeTx = db.transaction((topic: string, partition: number, offset: number) => {
      const row = this.#partitionRow(topic, partition);
      const target = Math.min(offset, this.#visibleHigh(topic, partition, row.high));
      if (target <= row.low) return { deleted: 0, low: row.low };
      const { changes } = this.#s.deleteBefore.run(topic, partition, target);
      this.#s.setLow.run(target, topic, partition);
      return { deleted: changes, low: target };
    });

    this.#commitTx = db.transaction((group: string, topic: string, positions: readonly StoredCommit[]) => {
      const now = Date.now();
      for (const p of positions) {
        this.#s.commit.run(
          group,
          topic,
          p.partition,
          p.offset,
          p.messageIndex ?? null,
          p.metadata ?? null,
          now,
        );
      }
    });
  }

  #partitionRow(topic: string, partition: number): PartitionRow {
    const row = this.#s.partition.get(topic, partition);
    if (!row) {
      throw new CorruptDataError(
        `embedded pointer queue: topic ${topic} has no row for partition ${partition}`,
      );
    }
    return { ...row };
  }

  #visibleHigh(topic: string, partition: number, high: number): number {
    const durable = this.#durableHigh.get(partitionKey(topic, partition));
    return durable === undefined ? high : Math.min(durable, high);
  }

  /** The published pointers `out` of `topic` are durable: readers may see them. */
  markDurable(topic: string, out: readonly PublishedPointer[]): void {
    for (const { partition, offset } of out) {
      const k = partitionKey(topic, partition);
      const durable = this.#durableHigh.get(k);
      if (durable !== undefined && durable < offset + 1) this.#durableHigh.set(k, offset + 1);
    }
  }

  // CommitTarget, for the group commit of `GroupCommitter`.
  transaction(fn: () => void): void {
    this.#run('commit a group of writes', () => this.#groupTx.immediate(fn));
  }

  savepoint<T>(fn: () => T): T {
    return this.#savepointTx(fn) as T;
  }

  sync(): Promise<void> {
    return this.#wal ? this.#wal.sync() : Promise.resolve();
  }

  inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  #run<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw mapSqliteError(e, what);
    }
  }

  /** Partition count, or undefined for an unknown topic. */
  partitions(topic: string): number | undefined {
    return this.#run(`read topic ${topic}`, () => this.#s.topic.get(topic)?.partitions);
  }

  topics(): { name: string; partitions: number }[] {
    return this.#run('list topics', () => this.#s.topics.all());
  }

  /** Creates the topic if missing; returns its partition count (the existing one if it was there). */
  createTopic(topic: string, partitions: number): number {
    return this.#run(`create topic ${topic}`, () => this.#createTopicTx.immediate(topic, partitions));
  }

  publish(topic: string, partitions: number, items: readonly PublishItem[]): PublishedPointer[] {
    return this.#run(`publish to ${topic}`, () => this.#publishTx.immediate(topic, partitions, items));
  }

  watermarks(topic: string, partition: number): { low: number; high: number; lastTimestamp: number } {
    const row = this.#run(`read watermarks of ${topic}/${partition}`, () =>
      this.#partitionRow(topic, partition),
    );
    return {
      low: row.low,
      high: this.#visibleHigh(topic, partition, row.high),
      lastTimestamp: row.last_timestamp,
    };
  }

  offsetForTimestamp(topic: string, partition: number, timestamp: number): number {
    return this.#run(`look up ${topic}/${partition} by time`, () => {
      const row = this.#s.atTime.get(topic, partition, timestamp);
      const high = this.#visibleHigh(topic, partition, this.#partitionRow(topic, partition).high);
      return row ? Math.min(row.offset, high) : high;
    });
  }

  /** Up to `limit` records of one partition from offset `from`; rows that fail validation throw. */
  read(topic: string, partition: number, from: number, limit: number): PointerRecord[] {
    const durable = this.#durableHigh.get(partitionKey(topic, partition));
    const max = durable === undefined ? limit : Math.min(limit, durable - from);
    if (max <= 0) return [];
    let rows = this.#run(`read ${topic}/${partition}`, () => this.#s.read.all(topic, partition, from, max));
    // Below the low watermark the offsets do not start at `from`: cut at the durable high.
    if (durable !== undefined) rows = rows.filter((row) => row.offset < durable);
    return rows.map((row) => {
      try {
        return {
          partition,
          offset: row.offset,
          timestamp: row.timestamp,
          pointer: decodePointer(row.pointer),
        };
      } catch (e) {
        throw new CorruptDataError(
          `embedded pointer queue: stored pointer ${topic}/${partition} offset ${row.offset} is invalid: ${errorMessage(e)}`,
          { cause: e },
        );
      }
    });
  }

  /** Deletes the pointers below `offset` (capped at high); returns how many and the new low. */
  deleteBefore(topic: string, partition: number, offset: number): { deleted: number; low: number } {
    return this.#run(`delete from ${topic}/${partition}`, () =>
      this.#deleteBeforeTx.immediate(topic, partition, offset),
    );
  }

  committed(group: string, topic: string, partition: number): StoredCommit | undefined {
    const row = this.#run(`read committed offset of ${group} on ${topic}/${partition}`, () =>
      this.#s.committed.get(group, topic, partition),
    );
    if (!row) return undefined;
    return row.message_index === null
      ? { partition, offset: row.offset }
      : { partition, offset: row.offset, messageIndex: row.message_index };
  }

  /** Every committed position of `group`, by topic then partition, with its `metadata` column. */
  committedOfGroup(group: string): { position: TopicCommitPosition; metadata: string | null }[] {
    const rows = this.#run(`read committed offsets of ${group}`, () => this.#s.committedOfGroup.all(group));
    return rows.map((r) => ({
      position:
        r.message_index === null
          ? { topic: r.topic, partition: r.partition, offset: r.offset }
          : { topic: r.topic, partition: r.partition, offset: r.offset, messageIndex: r.message_index },
      metadata: r.metadata,
    }));
  }

  /** The (group, topic) pairs with committed positions, sorted. */
  committedGroups(): { group: string; topic: string }[] {
    const rows = this.#run('list groups with committed offsets', () => this.#s.committedGroups.all());
    return rows.map((r) => ({ group: r.group_id, topic: r.topic }));
  }

  commit(group: string, topic: string, positions: readonly StoredCommit[]): void {
    this.#run(`commit ${group} on ${topic}`, () => this.#commitTx.immediate(group, topic, positions));
  }

  close(): void {
    this.#wal?.close();
    if (this.#db.open) this.#db.close();
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}
