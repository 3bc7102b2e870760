import type { GroupListing, GroupMember, GroupStatus } from '../pointer-queue.js';
import { ProtocolError, type Reader, type Writer } from './wire.js';

/**
 * Bodies and codecs of the group administration apis (`docs/protocol.md` §6.16-6.18):
 * ListGroups, DescribeGroup (members, committed positions and lag) and ResetOffsets. They work
 * on the pointer queue's groups, whoever their members are (the broker's remote consumers, or
 * direct Kafka consumers).
 */

export interface ListGroupsRequest {
  /** Only groups with members or committed positions on this topic; absent = every group. */
  topic?: string;
}

export interface ListGroupsResponse {
  groups: GroupListing[];
}

export interface DescribeGroupRequest {
  group: string;
  /** Only this topic; absent = every topic the group has members or committed positions on. */
  topic?: string;
}

/** One read partition of a topic the group reads: watermarks, committed position, lag. */
export interface GroupPartitionLag {
  topic: string;
  partition: number;
  low: number;
  high: number;
  /**
   * What the group committed, absent when nothing is. `lag` is in pointers: `high - offset`
   * (the pointer at `offset` counts whole even when `messageIndex` says it is partly read).
   */
  committed?: CommittedLag;
}

/** A committed position and how far behind the end of its read partition it is. */
export interface CommittedLag {
  offset: number;
  messageIndex: number;
  /** Pointers from `offset` to the high watermark (with Kafka transactions, commit markers count too). */
  lag: number;
  /**
   * v2: messages not yet consumed, counted from the pointers after the committed position (the
   * pointer at `offset` less its `messageIndex` first messages). Absent when the broker cannot
   * tell (a v1 broker, or a pointer queue that cannot read pointers outside a group).
   */
  messageLag?: number;
  /**
   * v2: present (true) when `messageLag` is extrapolated: more pointers were behind than the
   * broker reads for one answer, so the rest count the average messages per pointer read.
   */
  messageLagEstimated?: true;
}

export interface DescribeGroupResponse {
  group: string;
  status: GroupStatus;
  members: GroupMember[];
  /** Every read partition of every topic described, by topic then partition. */
  partitions: GroupPartitionLag[];
}

/** Where ResetOffsets moves a group: the first or next pointer, the first at a time, an offset. */
export type ResetTarget =
  | { to: 'earliest' }
  | { to: 'latest' }
  | { to: 'timestamp'; timestamp: number }
  | { to: 'offset'; offset: number };

export interface ResetOffsetsRequest {
  group: string;
  topic: string;
  target: ResetTarget;
  /** Read partitions to reset; empty = every read partition of the topic. */
  partitions: number[];
  /** false: a dry run that answers the plan and changes nothing. */
  execute: boolean;
}

export interface ResetOffsetsResponse {
  /** Per partition: the committed position before (absent when none) and the new offset. */
  partitions: { partition: number; previous?: { offset: number; messageIndex: number }; offset: number }[];
}

interface Codec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

const STATUSES: readonly GroupStatus[] = ['empty', 'stable', 'rebalancing'];
const TARGETS = ['earliest', 'latest', 'timestamp', 'offset'] as const;

function writeEnum<T extends string>(w: Writer, values: readonly T[], v: T, field: string): void {
  const i = values.indexOf(v);
  if (i < 0)
    throw new ProtocolError(`${field} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  w.u8(i, field);
}

function readEnum<T extends string>(r: Reader, values: readonly T[], field: string): T {
  const i = r.u8(field);
  const v = values[i];
  if (v === undefined) throw new ProtocolError(`${field} ${i} is unknown (0-${values.length - 1})`);
  return v;
}

function writeArray<T>(w: Writer, items: readonly T[], field: string, each: (item: T) => void): void {
  w.u32(items.length, `${field}.count`);
  for (const item of items) each(item);
}

function readArray<T>(r: Reader, field: string, minBytes: number, each: () => T): T[] {
  const n = r.count(field, minBytes);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(each());
  return out;
}

const optionalTopic: Codec<{ topic?: string }> = {
  write: (w, v) => void w.str16(v.topic ?? '', 'topic'),
  read: (r) => {
    const topic = r.str16('topic');
    return topic === '' ? {} : { topic };
  },
};

const writeMember = (w: Writer, m: GroupMember): void => {
  w.str16(m.memberId, 'memberId').str16(m.clientId, 'clientId').str16(m.host, 'host');
  writeArray(w, m.assignment, 'assignment', (a) => {
    w.str16(a.topic, 'topic');
    writeArray(w, a.partitions, 'partitions', (p) => w.u32(p, 'partition'));
  });
};

const readMember = (r: Reader): GroupMember => ({
  memberId: r.str16('memberId'),
  clientId: r.str16('clientId'),
  host: r.str16('host'),
  assignment: readArray(r, 'assignment', 6, () => ({
    topic: r.str16('topic'),
    partitions: readArray(r, 'partitions', 4, () => r.u32('partition')),
  })),
});

export const listGroupsCodecs: { request: Codec<ListGroupsRequest>; response: Codec<ListGroupsResponse> } = {
  request: optionalTopic,
  response: {
    write: (w, v) =>
      writeArray(w, v.groups, 'groups', (g) => {
        w.str16(g.group, 'group');
        writeEnum(w, STATUSES, g.status, 'status');
        w.u32(g.members, 'members');
        writeArray(w, g.topics, 'topics', (t) => w.str16(t, 'topic'));
      }),
    read: (r) => ({
      groups: readArray(r, 'groups', 11, () => ({
        group: r.str16('group'),
        status: readEnum(r, STATUSES, 'status'),
        members: r.u32('members'),
        topics: readArray(r, 'topics', 2, () => r.str16('topic')),
      })),
    }),
  },
};

export const describeGroupCodecs: {
  request: Codec<DescribeGroupRequest>;
  response: Codec<DescribeGroupResponse>;
} = {
  request: {
    write: (w, v) => {
      w.str16(v.group, 'group');
      optionalTopic.write(w, v);
    },
    read: (r) => ({ group: r.str16('group'), ...optionalTopic.read(r) }),
  },
  response: {
    write: (w, v) => {
      w.str16(v.group, 'group');
      writeEnum(w, STATUSES, v.status, 'status');
      writeArray(w, v.members, 'members', (m) => writeMember(w, m));
      writeArray(w, v.partitions, 'partitions', (p) => {
        const c = p.committed;
        w.str16(p.topic, 'topic').u32(p.partition, 'partition').u64(p.low, 'low').u64(p.high, 'high');
        w.bool(c !== undefined)
          .u64(c?.offset ?? 0, 'committed.offset')
          .u32(c?.messageIndex ?? 0, 'committed.messageIndex')
          .u64(c?.lag ?? 0, 'committed.lag');
      });
    },
    read: (r) => ({
      group: r.str16('group'),
      status: readEnum(r, STATUSES, 'status'),
      members: readArray(r, 'members', 10, () => readMember(r)),
      partitions: readArray(r, 'partitions', 43, () => {
        const topic = r.str16('topic');
        const partition = r.u32('partition');
        const low = r.u64('low');
        const high = r.u64('high');
        const has = r.bool('hasCommit');
        const offset = r.u64('committed.offset');
        const messageIndex = r.u32('committed.messageIndex');
        const lag = r.u64('committed.lag');
        const p: GroupPartitionLag = { topic, partition, low, high };
        if (has) p.committed = { offset, messageIndex, lag };
        return p;
      }),
    }),
  },
};

/** How `messageLag` travels in DescribeGroup v2 (`MessageLag.kind`). */
const MESSAGE_LAG_UNKNOWN = 0;
const MESSAGE_LAG_EXACT = 1;
const MESSAGE_LAG_ESTIMATED = 2;

/**
 * DescribeGroup v2: the v1 response, then `array32<MessageLag>` with one entry per partition (in
 * the same order): `u8 kind` (0 unknown or nothing committed, 1 exact, 2 estimated), `u64 messageLag`.
 */
export const describeGroupV2Codecs: typeof describeGroupCodecs = {
  request: describeGroupCodecs.request,
  response: {
    write: (w, v) => {
      describeGroupCodecs.response.write(w, v);
      writeArray(w, v.partitions, 'messageLags', (p) => {
        const c = p.committed;
        const kind =
          c?.messageLag === undefined
            ? MESSAGE_LAG_UNKNOWN
            : c.messageLagEstimated
              ? MESSAGE_LAG_ESTIMATED
              : MESSAGE_LAG_EXACT;
        w.u8(kind, 'messageLag.kind').u64(c?.messageLag ?? 0, 'messageLag');
      });
    },
    read: (r) => {
      const v = describeGroupCodecs.response.read(r);
      const lags = readArray(r, 'messageLags', 9, () => ({
        kind: r.u8('messageLag.kind'),
        lag: r.u64('messageLag'),
      }));
      if (lags.length !== v.partitions.length) {
        throw new ProtocolError(`${lags.length} message lags for ${v.partitions.length} partitions`);
      }
      lags.forEach(({ kind, lag }, i) => {
        const c = v.partitions[i]!.committed;
        if (kind > MESSAGE_LAG_ESTIMATED) throw new ProtocolError(`messageLag.kind ${kind} is unknown (0-2)`);
        if (!c || kind === MESSAGE_LAG_UNKNOWN) return;
        c.messageLag = lag;
        if (kind === MESSAGE_LAG_ESTIMATED) c.messageLagEstimated = true;
      });
      return v;
    },
  },
};

export const resetOffsetsCodecs: {
  request: Codec<ResetOffsetsRequest>;
  response: Codec<ResetOffsetsResponse>;
} = {
  request: {
    write: (w, v) => {
      const t = v.target;
      w.str16(v.group, 'group').str16(v.topic, 'topic');
      writeEnum(w, TARGETS, t.to, 'target');
      w.i64(t.to === 'timestamp' ? t.timestamp : t.to === 'offset' ? t.offset : 0, 'target.value');
      writeArray(w, v.partitions, 'partitions', (p) => w.u32(p, 'partition'));
      w.bool(v.execute);
    },
    read: (r) => {
      const group = r.str16('group');
      const topic = r.str16('topic');
      const to = readEnum(r, TARGETS, 'target');
      const value = r.i64('target.value');
      const partitions = readArray(r, 'partitions', 4, () => r.u32('partition'));
      const execute = r.bool('execute');
      let target: ResetTarget;
      if (to === 'timestamp') target = { to, timestamp: value };
      else if (to === 'offset') {
        if (value < 0) throw new ProtocolError(`target offset must be >= 0, got ${value}`);
        target = { to, offset: value };
      } else target = { to };
      return { group, topic, target, partitions, execute };
    },
  },
  response: {
    write: (w, v) =>
      writeArray(w, v.partitions, 'partitions', (p) => {
        w.u32(p.partition, 'partition').bool(p.previous !== undefined);
        w.u64(p.previous?.offset ?? 0, 'previous.offset').u32(
          p.previous?.messageIndex ?? 0,
          'previous.messageIndex',
        );
        w.u64(p.offset, 'offset');
      }),
    read: (r) => ({
      partitions: readArray(r, 'partitions', 25, () => {
        const partition = r.u32('partition');
        const has = r.bool('hasPrevious');
        const previous = { offset: r.u64('previous.offset'), messageIndex: r.u32('previous.messageIndex') };
        const offset = r.u64('offset');
        return has ? { partition, previous, offset } : { partition, offset };
      }),
    }),
  },
};
