import { randomUUID } from 'node:crypto';
import {
  type CommitOffsetsRequest,
  ErrorCode,
  encodePointer,
  errorMessage,
  type FetchCommittedResponse,
  type FetchPointersResponse,
  type GroupState,
  type JoinGroupRequest,
  type JoinGroupResponse,
  MAX_FETCH_WAIT_MS,
  type PointerConsumer,
  type PointerQueue,
  type PointerRecord,
} from '@barge/core';
import type { Logger } from 'pino';
import { errorCodeOf, pointerErrorCode, RequestError } from './errors.js';
import type { BrokerMetrics } from './metrics.js';
import type { TopicRegistry } from './topics.js';

export const GROUP_NAME = /^[A-Za-z0-9._\-:]{1,249}$/;
export const MIN_SESSION_TIMEOUT_MS = 100;
export const MAX_SESSION_TIMEOUT_MS = 3_600_000;
const MAX_FETCH_RECORDS = 10_000;

/** The connection a member joined on; its members leave when it closes. */
export type MemberOwner = object;

interface Member {
  id: string;
  group: string;
  topic: string;
  owner: MemberOwner;
  consumer: PointerConsumer;
  sessionTimeoutMs: number;
  lastSeen: number;
  generation: number;
  lastAssignment: string;
  /** Whether the member speaks the revoke phase (JoinGroup v2 and later). */
  revokes: boolean;
  /** Partitions in their revoke phase the member has not released yet, and who waits for them. */
  release: { waiting: Set<number>; done: () => void } | undefined;
  /** Requests of this member in progress (a long poll keeps the session alive). */
  active: number;
  /** Member requests run one after another. */
  chain: Promise<unknown>;
}

/**
 * Consumer groups for remote consumers (the embedded pointer queue is only reachable through
 * the broker). Each JoinGroup subscribes one `PointerConsumer`, kept per member id; it is
 * closed on LeaveGroup, when the member's connection closes, or when the member sends nothing
 * for `sessionTimeoutMs` (the group then rebalances). Committed offsets live in the pointer
 * queue, so they survive broker restarts. Members that speak v2 take part in the revoke phase:
 * their partitions in it are listed in every GroupState until the member releases them
 * (Heartbeat `released`), leaves, or the queue's revoke timeout passes.
 */
export class GroupCoordinator {
  readonly #members = new Map<string, Member>();
  readonly #sweeper: NodeJS.Timeout;
  #closing = false;

  constructor(
    private readonly pointers: PointerQueue,
    private readonly topics: TopicRegistry,
    private readonly log: Logger,
    private readonly metrics: BrokerMetrics,
    private readonly defaultSessionTimeoutMs = 30_000,
  ) {
    this.#sweeper = setInterval(() => this.sweep(), 50);
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#members.size;
  }

  async join(owner: MemberOwner, req: JoinGroupRequest, version = 1): Promise<JoinGroupResponse> {
    if (!GROUP_NAME.test(req.group)) {
      throw new RequestError(
        ErrorCode.INVALID_GROUP,
        `group name ${JSON.stringify(req.group.slice(0, 300))} is invalid: expected 1-249 characters of A-Z a-z 0-9 . _ - :`,
      );
    }
    const topic = await this.topics.require(req.topic);
    const sessionTimeoutMs =
      req.sessionTimeoutMs === 0
        ? this.defaultSessionTimeoutMs
        : Math.min(Math.max(req.sessionTimeoutMs, MIN_SESSION_TIMEOUT_MS), MAX_SESSION_TIMEOUT_MS);
    let consumer: PointerConsumer;
    try {
      await this.topics.ensurePointerTopic(topic);
      consumer = await this.pointers.subscribe({
        group: req.group,
        topic: req.topic,
        sessionTimeoutMs,
        fromBeginning: req.fromBeginning,
        clientId: req.clientId || 'barge-remote',
      });
    } catch (e) {
      throw new RequestError(pointerErrorCode(e), `cannot join group ${req.group}: ${errorMessage(e)}`, {
        cause: e,
      });
    }
    const id = `${req.clientId ? `${req.clientId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}-` : ''}${randomUUID()}`;
    const m: Member = {
      id,
      group: req.group,
      topic: req.topic,
      owner,
      consumer,
      sessionTimeoutMs,
      lastSeen: Date.now(),
      generation: 0,
      lastAssignment: '\0',
      revokes: version >= 2,
      release: undefined,
      active: 0,
      chain: Promise.resolve(),
    };
    if (m.revokes) consumer.onRevoke((partitions) => this.#awaitRelease(m, partitions));
    this.#members.set(id, m);
    this.metrics.groupMembers.set(this.#members.size);
    this.log.info(
      {
        group: req.group,
        topic: req.topic,
        memberId: id,
        sessionTimeoutMs,
        assignment: consumer.assignment(),
      },
      'group member joined',
    );
    return { memberId: id, readPartitions: topic.readPartitions, ...this.#state(m) };
  }

  /** The group and topic a member joined, or undefined for an unknown member id (authorization). */
  scopeOf(memberId: string): { group: string; topic: string } | undefined {
    const m = this.#members.get(memberId);
    return m && { group: m.group, topic: m.topic };
  }

  heartbeat(memberId: string, released: readonly number[] = []): GroupState {
    const m = this.#member(memberId);
    m.lastSeen = Date.now();
    if (m.release && released.length > 0) {
      for (const p of released) m.release.waiting.delete(p);
      if (m.release.waiting.size === 0) this.#released(m);
    }
    return this.#state(m);
  }

  async leave(memberId: string): Promise<void> {
    const m = this.#member(memberId);
    await this.#remove(m, 'left the group');
  }

  fetch(
    memberId: string,
    maxRecords: number,
    maxWaitMs: number,
    maxBytes: number,
  ): Promise<FetchPointersResponse> {
    return this.#run(memberId, async (m) => {
      const n = Math.min(Math.max(maxRecords, 1), MAX_FETCH_RECORDS);
      let records: PointerRecord[];
      try {
        records = await m.consumer.poll({ maxRecords: n, timeoutMs: Math.min(maxWaitMs, MAX_FETCH_WAIT_MS) });
      } catch (e) {
        if (!this.#members.has(m.id)) throw unknownMember(m.id);
        throw new RequestError(pointerErrorCode(e), `fetch failed: ${errorMessage(e)}`, { cause: e });
      }
      if (!this.#members.has(m.id)) throw unknownMember(m.id);
      // Keep the response under the frame limit; records left out are read again next time.
      let size = 64 + 8 * m.consumer.assignment().length;
      let keep = records.length;
      for (let i = 0; i < records.length; i++) {
        size += 24 + encodePointer(records[i]!.pointer).length;
        if (size > maxBytes && i > 0) {
          keep = i;
          break;
        }
      }
      if (keep < records.length) {
        const rewind = new Map<number, number>();
        for (const r of records.slice(keep)) if (!rewind.has(r.partition)) rewind.set(r.partition, r.offset);
        for (const [p, o] of rewind) {
          try {
            m.consumer.seek(p, o);
          } catch {
            // The partition was revoked meanwhile: its new owner reads from the committed offset.
          }
        }
      }
      return { ...this.#state(m), records: records.slice(0, keep) };
    });
  }

  commit(memberId: string, positions: CommitOffsetsRequest['positions']): Promise<void> {
    return this.#run(memberId, async (m) => {
      try {
        await m.consumer.commit(
          positions.map((p) => ({ partition: p.partition, offset: p.offset, messageIndex: p.messageIndex })),
        );
      } catch (e) {
        throw new RequestError(errorCodeOf(e), `commit failed: ${errorMessage(e)}`, { cause: e });
      }
    });
  }

  committed(memberId: string, partitions: number[]): Promise<FetchCommittedResponse> {
    return this.#run(memberId, async (m) => {
      let got: Awaited<ReturnType<PointerConsumer['committed']>>;
      try {
        got = await m.consumer.committed(partitions);
      } catch (e) {
        throw new RequestError(errorCodeOf(e), `cannot read committed offsets: ${errorMessage(e)}`, {
          cause: e,
        });
      }
      return {
        positions: partitions.map((partition, i) => {
          const c = got[i];
          return c
            ? { partition, committed: { offset: c.offset, messageIndex: c.messageIndex ?? 0 } }
            : { partition };
        }),
      };
    });
  }

  seek(memberId: string, partition: number, offset: number): Promise<void> {
    return this.#run(memberId, async (m) => {
      try {
        m.consumer.seek(partition, offset);
      } catch (e) {
        throw new RequestError(errorCodeOf(e), `seek failed: ${errorMessage(e)}`, { cause: e });
      }
    });
  }

  /** The connection closed: its members leave their groups. */
  async ownerClosed(owner: MemberOwner): Promise<void> {
    const gone = [...this.#members.values()].filter((m) => m.owner === owner);
    await Promise.all(gone.map((m) => this.#remove(m, 'connection closed')));
  }

  /** Removes members whose session timed out. */
  sweep(now = Date.now()): void {
    for (const m of this.#members.values()) {
      if (m.active === 0 && now - m.lastSeen > m.sessionTimeoutMs) {
        void this.#remove(m, `session timed out after ${m.sessionTimeoutMs} ms`);
      }
    }
  }

  async closeAll(): Promise<void> {
    this.#closing = true;
    for (const m of this.#members.values()) this.#released(m);
    clearInterval(this.#sweeper);
    await Promise.all([...this.#members.values()].map((m) => this.#remove(m, 'broker stopping')));
  }

  #member(memberId: string): Member {
    const m = this.#members.get(memberId);
    if (!m) throw unknownMember(memberId);
    return m;
  }

  async #run<T>(memberId: string, f: (m: Member) => Promise<T>): Promise<T> {
    const m = this.#member(memberId);
    m.lastSeen = Date.now();
    m.active++;
    const result = m.chain.then(() => {
      if (!this.#members.has(m.id)) throw unknownMember(m.id);
      return f(m);
    });
    m.chain = result.catch(() => {});
    try {
      return await result;
    } finally {
      m.active--;
      m.lastSeen = Date.now();
    }
  }

  #state(m: Member): GroupState {
    const assignment = [...m.consumer.assignment()];
    const revoking = m.revokes ? [...m.consumer.revoking()] : [];
    const key = `${assignment.join(',')}/${revoking.join(',')}`;
    if (key !== m.lastAssignment) {
      m.generation++;
      m.lastAssignment = key;
    }
    return { generation: m.generation, assignment, revoking };
  }

  /** The queue's revoke phase for a v2 member: done when the member releases the partitions. */
  #awaitRelease(m: Member, partitions: readonly number[]): Promise<void> {
    if (this.#closing || !this.#members.has(m.id)) return Promise.resolve();
    this.#released(m);
    return new Promise<void>((done) => {
      m.release = { waiting: new Set(partitions), done };
    });
  }

  #released(m: Member): void {
    const r = m.release;
    m.release = undefined;
    r?.done();
  }

  async #remove(m: Member, reason: string): Promise<void> {
    if (!this.#members.delete(m.id)) return;
    this.#released(m);
    this.metrics.groupMembers.set(this.#members.size);
    this.log.info({ group: m.group, topic: m.topic, memberId: m.id, reason }, 'group member removed');
    try {
      await m.consumer.close();
    } catch (e) {
      this.log.warn({ memberId: m.id, err: errorMessage(e) }, 'closing group member failed');
    }
  }
}

function unknownMember(id: string): RequestError {
  return new RequestError(
    ErrorCode.UNKNOWN_MEMBER,
    `member ${JSON.stringify(id)} is not in a group (it left, its connection closed, or its session timed out); join again`,
  );
}
