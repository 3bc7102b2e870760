import type { ChunkMeta, EncodedChunk } from '../batch/chunk.js';
import { errorMessage } from '../errors.js';
import { type BatchPointer, decodePointer, encodePointer } from '../pointer.js';
import { type WithClusterMetadata, withClusterMetadata } from './cluster-metadata.js';
import { LENGTH_PREFIX_BYTES, type RequestHeader } from './frame.js';
import {
  type DescribeGroupRequest,
  type DescribeGroupResponse,
  describeGroupCodecs,
  describeGroupV2Codecs,
  type ListGroupsRequest,
  type ListGroupsResponse,
  listGroupsCodecs,
  type ResetOffsetsRequest,
  type ResetOffsetsResponse,
  resetOffsetsCodecs,
} from './group-admin.js';
import {
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
  type SaslHandshakeRequest,
  type SaslHandshakeResponse,
  saslAuthenticateCodecs,
  saslHandshakeCodecs,
} from './sasl.js';
import { type Throttled, withThrottleTime } from './throttle.js';
import { ProtocolError, Reader, Writer } from './wire.js';

/**
 * Api keys and the request/response bodies of every api, with encoders and decoders
 * (`docs/protocol.md` §4). Decoders never trust a length or count: every read is bounds-checked
 * and malformed input throws `ProtocolError`.
 */
export const ApiKey = {
  ApiVersions: 0,
  Metadata: 1,
  Produce: 2,
  CreateTopic: 3,
  ListTopics: 4,
  DescribeTopic: 5,
  JoinGroup: 10,
  Heartbeat: 11,
  LeaveGroup: 12,
  FetchPointers: 13,
  CommitOffsets: 14,
  FetchCommitted: 15,
  Seek: 16,
  OffsetForTimestamp: 17,
  Watermarks: 18,
  ReadObject: 20,
  ListGroups: 21,
  DescribeGroup: 22,
  ResetOffsets: 23,
  SaslHandshake: 24,
  SaslAuthenticate: 25,
} as const;

export type ApiName = keyof typeof ApiKey;
export type ApiKey = (typeof ApiKey)[ApiName];

export interface VersionRange {
  min: number;
  max: number;
}

/** The versions this build of the protocol module can encode and decode. */
export const SUPPORTED_VERSIONS: Readonly<Record<ApiKey, VersionRange>> = {
  0: { min: 1, max: 1 },
  1: { min: 1, max: 2 },
  2: { min: 1, max: 2 },
  3: { min: 1, max: 1 },
  4: { min: 1, max: 1 },
  5: { min: 1, max: 1 },
  10: { min: 1, max: 2 },
  11: { min: 1, max: 2 },
  12: { min: 1, max: 1 },
  13: { min: 1, max: 2 },
  14: { min: 1, max: 1 },
  15: { min: 1, max: 1 },
  16: { min: 1, max: 1 },
  17: { min: 1, max: 1 },
  18: { min: 1, max: 1 },
  20: { min: 1, max: 2 },
  21: { min: 1, max: 1 },
  22: { min: 1, max: 2 },
  23: { min: 1, max: 1 },
  24: { min: 1, max: 1 },
  25: { min: 1, max: 1 },
};

export const API_KEYS: readonly ApiKey[] = Object.values(ApiKey);

export function isApiKey(k: number): k is ApiKey {
  return Object.hasOwn(SUPPORTED_VERSIONS, k);
}

export function apiName(k: number): string {
  for (const [name, key] of Object.entries(ApiKey)) if (key === k) return name;
  return `api ${k}`;
}

/**
 * When a produce request is answered: never (`none`), once the broker holds the chunks in an open
 * batch (`received`), or once the batch object is stored and its pointer published (`durable`).
 */
export type AckLevel = 'none' | 'received' | 'durable';

/** The byte each ack level travels as in a produce request. */
export const Acks = { none: 0, received: 1, durable: 2 } as const satisfies Record<AckLevel, number>;
export type Acks = (typeof Acks)[AckLevel];

const ACK_LEVEL_OF_BYTE: readonly AckLevel[] = ['none', 'received', 'durable'];

export function isAckLevel(v: unknown): v is AckLevel {
  return typeof v === 'string' && Object.hasOwn(Acks, v);
}

/** `writePartition` value that lets the broker choose the write partition. */
export const ANY_WRITE_PARTITION = 0xffffffff;
/** ReadObject `length` value meaning "to the end of the object" (subject to the response size cap). */
export const READ_TO_END = 0xffffffff;
/** Largest `maxWaitMs` a broker honours for FetchPointers; longer waits are shortened. */
export const MAX_FETCH_WAIT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

export interface ApiVersionEntry {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface ApiVersionsRequest {
  /** Free text for the broker's logs, e.g. `barge-client/0.1.0 host-1`. */
  clientId: string;
  versions: ApiVersionEntry[];
}

export interface ApiVersionsResponse {
  brokerId: number;
  versions: ApiVersionEntry[];
}

export interface MetadataRequest {
  /** Topics to describe; empty = every topic. An unknown name fails the request with UNKNOWN_TOPIC. */
  topics: string[];
}

export interface BatchSettingsInfo {
  maxBytes: number;
  maxMessages: number;
  maxDelayMs: number;
}

export interface TopicInfo {
  name: string;
  writePartitions: number;
  readPartitions: number;
  batch: BatchSettingsInfo;
  /** Codec producers should use, e.g. `none`, `gzip`, `lz4`. */
  compression: string;
}

export interface MetadataResponse extends WithClusterMetadata {
  brokerId: number;
  /** Storage adapter and bucket/container/root, so consumers with credentials read batches directly. */
  storage: { adapter: string; location: string };
  pointers: { adapter: string };
  /** Largest request frame the broker accepts (length field value). */
  maxFrameBytes: number;
  /** Largest `data` a ReadObject response carries; read bigger objects in ranges. */
  maxReadBytes: number;
  /** Largest number of messages in one produce request. */
  maxMessagesPerRequest: number;
  topics: TopicInfo[];
}

/**
 * One chunk as the producer encoded it (`encodeChunk`): the stored bytes and their `ChunkMeta`.
 * On the wire the meta travels without `length` (the data's length) and `producerId` (the
 * request's); the encoder checks both agree, the decoder fills them in. The broker checks
 * `meta.crc32` and appends `bytes` to the batch unchanged; it never decompresses them.
 */
export type ProduceChunk = EncodedChunk;

export interface ProduceRequest {
  topic: string;
  /** Target write partition, or `ANY_WRITE_PARTITION` to let the broker choose. */
  writePartition: number;
  acks: AckLevel;
  /** Producer identity, written into every chunk's index entry; equals every chunk's `meta.producerId`. */
  producerId: number;
  /** The broker answers REQUEST_TIMED_OUT when the ack is not ready after this long; 0 = no limit. */
  timeoutMs: number;
  chunks: ProduceChunk[];
}

export interface ProduceResponse extends Throttled {
  /** Write partition the chunks went to (the broker's choice for `ANY_WRITE_PARTITION`). */
  writePartition: number;
  /** Batch sequence within the write partition; -1 before the batch is closed (acks=received). */
  sequence: number;
  /** Index of the request's first chunk and first message within the batch. */
  firstChunkIndex: number;
  firstMessageIndex: number;
  /** Read partition and offset of the batch pointer; -1 unless acks=durable. */
  readPartition: number;
  offset: number;
}

/** CreateTopic: omitted settings take the broker's defaults. */
export interface CreateTopicRequest {
  name: string;
  writePartitions?: number;
  readPartitions?: number;
  batch?: Partial<BatchSettingsInfo>;
  compression?: string;
  /** Succeed (created=false) when the topic exists with the same partition counts. */
  ifNotExists?: boolean;
}

export interface CreateTopicResponse {
  created: boolean;
  topic: TopicInfo;
}

export type ListTopicsRequest = Record<string, never>;

export interface ListTopicsResponse {
  topics: TopicInfo[];
}

export interface DescribeTopicRequest {
  name: string;
}

export interface PartitionWatermarks {
  partition: number;
  low: number;
  high: number;
}

export interface DescribeTopicResponse {
  topic: TopicInfo;
  /** Watermarks of every read partition. */
  partitions: PartitionWatermarks[];
}

export interface JoinGroupRequest {
  group: string;
  topic: string;
  /** 0 = the broker's default. */
  sessionTimeoutMs: number;
  fromBeginning: boolean;
  clientId: string;
}

export interface GroupState {
  /** Increases each time this member's assignment changes. */
  generation: number;
  assignment: number[];
  /**
   * v2: partitions of `assignment` in their revoke phase: the member stops processing them,
   * commits what it processed and names them in `HeartbeatRequest.released`. Always empty in v1.
   */
  revoking: number[];
}

export interface JoinGroupResponse extends GroupState {
  memberId: string;
  readPartitions: number;
}

export interface MemberRequest {
  memberId: string;
}

export interface HeartbeatRequest extends MemberRequest {
  /** v2: partitions of `GroupState.revoking` this member committed and gives up. */
  released?: number[];
}
export type HeartbeatResponse = GroupState;
export type LeaveGroupRequest = MemberRequest;
export type EmptyResponse = Record<string, never>;

export interface FetchPointersRequest {
  memberId: string;
  maxRecords: number;
  /** Long poll: wait up to this long for at least one record (capped at MAX_FETCH_WAIT_MS). */
  maxWaitMs: number;
}

export interface WirePointerRecord {
  partition: number;
  offset: number;
  timestamp: number;
  pointer: BatchPointer;
}

export interface FetchPointersResponse extends GroupState {
  records: WirePointerRecord[];
}

export interface WireCommitPosition {
  partition: number;
  offset: number;
  messageIndex: number;
}

export interface CommitOffsetsRequest {
  memberId: string;
  positions: WireCommitPosition[];
}

export interface FetchCommittedRequest {
  memberId: string;
  partitions: number[];
}

export interface FetchCommittedResponse {
  /** One entry per requested partition, in order; `committed` undefined when nothing is committed. */
  positions: { partition: number; committed?: { offset: number; messageIndex: number } }[];
}

export interface SeekRequest {
  memberId: string;
  partition: number;
  offset: number;
}

export interface OffsetForTimestampRequest {
  topic: string;
  partition: number;
  timestamp: number;
}

export interface OffsetForTimestampResponse {
  offset: number;
}

export interface WatermarksRequest {
  topic: string;
  partition: number;
}

export interface WatermarksResponse {
  low: number;
  high: number;
}

export interface ReadObjectRequest {
  /** A batch key from a pointer (`storage.key`). */
  key: string;
  offset: number;
  /** Bytes wanted, or `READ_TO_END`. The broker may return fewer (see `maxReadBytes`). */
  length: number;
}

export interface ReadObjectResponse extends Throttled {
  /** Total object size, so the client knows whether to ask for the next range. */
  objectSize: number;
  /** Offset of `data` within the object (the request's offset). */
  offset: number;
  data: Buffer;
}

export interface RequestTypes {
  [ApiKey.ApiVersions]: ApiVersionsRequest;
  [ApiKey.Metadata]: MetadataRequest;
  [ApiKey.Produce]: ProduceRequest;
  [ApiKey.CreateTopic]: CreateTopicRequest;
  [ApiKey.ListTopics]: ListTopicsRequest;
  [ApiKey.DescribeTopic]: DescribeTopicRequest;
  [ApiKey.JoinGroup]: JoinGroupRequest;
  [ApiKey.Heartbeat]: HeartbeatRequest;
  [ApiKey.LeaveGroup]: LeaveGroupRequest;
  [ApiKey.FetchPointers]: FetchPointersRequest;
  [ApiKey.CommitOffsets]: CommitOffsetsRequest;
  [ApiKey.FetchCommitted]: FetchCommittedRequest;
  [ApiKey.Seek]: SeekRequest;
  [ApiKey.OffsetForTimestamp]: OffsetForTimestampRequest;
  [ApiKey.Watermarks]: WatermarksRequest;
  [ApiKey.ReadObject]: ReadObjectRequest;
  [ApiKey.ListGroups]: ListGroupsRequest;
  [ApiKey.DescribeGroup]: DescribeGroupRequest;
  [ApiKey.ResetOffsets]: ResetOffsetsRequest;
  [ApiKey.SaslHandshake]: SaslHandshakeRequest;
  [ApiKey.SaslAuthenticate]: SaslAuthenticateRequest;
}

export interface ResponseTypes {
  [ApiKey.ApiVersions]: ApiVersionsResponse;
  [ApiKey.Metadata]: MetadataResponse;
  [ApiKey.Produce]: ProduceResponse;
  [ApiKey.CreateTopic]: CreateTopicResponse;
  [ApiKey.ListTopics]: ListTopicsResponse;
  [ApiKey.DescribeTopic]: DescribeTopicResponse;
  [ApiKey.JoinGroup]: JoinGroupResponse;
  [ApiKey.Heartbeat]: HeartbeatResponse;
  [ApiKey.LeaveGroup]: EmptyResponse;
  [ApiKey.FetchPointers]: FetchPointersResponse;
  [ApiKey.CommitOffsets]: EmptyResponse;
  [ApiKey.FetchCommitted]: FetchCommittedResponse;
  [ApiKey.Seek]: EmptyResponse;
  [ApiKey.OffsetForTimestamp]: OffsetForTimestampResponse;
  [ApiKey.Watermarks]: WatermarksResponse;
  [ApiKey.ReadObject]: ReadObjectResponse;
  [ApiKey.ListGroups]: ListGroupsResponse;
  [ApiKey.DescribeGroup]: DescribeGroupResponse;
  [ApiKey.ResetOffsets]: ResetOffsetsResponse;
  [ApiKey.SaslHandshake]: SaslHandshakeResponse;
  [ApiKey.SaslAuthenticate]: SaslAuthenticateResponse;
}

/** A decoded request of any api, discriminated by `apiKey`. */
export type AnyRequest = { [K in ApiKey]: { apiKey: K; apiVersion: number; body: RequestTypes[K] } }[ApiKey];

// ---------------------------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------------------------

interface BodyCodec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

/** Fixed bytes of one chunk before its data. */
const CHUNK_FIXED_BYTES = 1 + 4 + 4 + 4 + 8 + 8 + 8 + 4;

const writeVersions = (w: Writer, versions: readonly ApiVersionEntry[]): void => {
  w.u16(versions.length, 'versions.count');
  for (const v of versions)
    w.u16(v.apiKey, 'apiKey').u16(v.minVersion, 'minVersion').u16(v.maxVersion, 'maxVersion');
};

const readVersions = (r: Reader): ApiVersionEntry[] => {
  const n = r.count('versions', 6, 2);
  const out: ApiVersionEntry[] = [];
  for (let i = 0; i < n; i++) {
    const apiKey = r.u16('apiKey');
    const minVersion = r.u16('minVersion');
    const maxVersion = r.u16('maxVersion');
    if (minVersion > maxVersion)
      throw new ProtocolError(`api ${apiKey}: minVersion ${minVersion} > maxVersion ${maxVersion}`);
    out.push({ apiKey, minVersion, maxVersion });
  }
  return out;
};

const writeStrings = (w: Writer, items: readonly string[], field: string): void => {
  w.u32(items.length, `${field}.count`);
  for (const s of items) w.str16(s, field);
};

const readStrings = (r: Reader, field: string): string[] => {
  const n = r.count(field, 2);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.str16(field));
  return out;
};

const writeU32s = (w: Writer, items: readonly number[], field: string): void => {
  w.u32(items.length, `${field}.count`);
  for (const p of items) w.u32(p, field);
};

const readU32s = (r: Reader, field: string): number[] => {
  const n = r.count(field, 4);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32(field));
  return out;
};

const TOPIC_INFO_MIN_BYTES = 2 + 4 + 4 + 8 + 4 + 4 + 2;

const writeTopicInfo = (w: Writer, t: TopicInfo): void => {
  w.str16(t.name, 'name')
    .u32(t.writePartitions, 'writePartitions')
    .u32(t.readPartitions, 'readPartitions')
    .u64(t.batch.maxBytes, 'batch.maxBytes')
    .u32(t.batch.maxMessages, 'batch.maxMessages')
    .u32(t.batch.maxDelayMs, 'batch.maxDelayMs')
    .str16(t.compression, 'compression');
};

const readTopicInfo = (r: Reader): TopicInfo => ({
  name: r.str16('name'),
  writePartitions: r.u32('writePartitions'),
  readPartitions: r.u32('readPartitions'),
  batch: {
    maxBytes: r.u64('batch.maxBytes'),
    maxMessages: r.u32('batch.maxMessages'),
    maxDelayMs: r.u32('batch.maxDelayMs'),
  },
  compression: r.str16('compression'),
});

const writeTopics = (w: Writer, topics: readonly TopicInfo[]): void => {
  w.u32(topics.length, 'topics.count');
  for (const t of topics) writeTopicInfo(w, t);
};

const readTopics = (r: Reader): TopicInfo[] => {
  const n = r.count('topics', TOPIC_INFO_MIN_BYTES);
  const out: TopicInfo[] = [];
  for (let i = 0; i < n; i++) out.push(readTopicInfo(r));
  return out;
};

const writeGroupState = (w: Writer, s: GroupState): void => {
  w.u32(s.generation, 'generation');
  writeU32s(w, s.assignment, 'assignment');
};

const readGroupState = (r: Reader): GroupState => ({
  generation: r.u32('generation'),
  assignment: readU32s(r, 'assignment'),
  revoking: [],
});

/** v2 of JoinGroup, Heartbeat and FetchPointers responses: the v1 body, then `revoking`. */
const withRevoking = <T extends GroupState>(v1: BodyCodec<T>): BodyCodec<T> => ({
  write: (w, v) => {
    v1.write(w, v);
    writeU32s(w, v.revoking, 'revoking');
  },
  read: (r) => ({ ...v1.read(r), revoking: readU32s(r, 'revoking') }),
});

const member: BodyCodec<MemberRequest> = {
  write: (w, v) => void w.str16(v.memberId, 'memberId'),
  read: (r) => ({ memberId: r.str16('memberId') }),
};

const empty: BodyCodec<EmptyResponse> = {
  write: () => {},
  read: () => ({}),
};

const CREATE_FLAGS = {
  writePartitions: 1 << 0,
  readPartitions: 1 << 1,
  maxBytes: 1 << 2,
  maxMessages: 1 << 3,
  maxDelayMs: 1 << 4,
  compression: 1 << 5,
  ifNotExists: 1 << 8,
} as const;
const CREATE_FLAGS_ALL = Object.values(CREATE_FLAGS).reduce((a, b) => a | b, 0);

interface Codecs<K extends ApiKey> {
  request: BodyCodec<RequestTypes[K]>;
  response: BodyCodec<ResponseTypes[K]>;
}

const codecs: { [K in ApiKey]: Codecs<K> } = {
  [ApiKey.ApiVersions]: {
    request: {
      write: (w, v) => {
        w.str16(v.clientId, 'clientId');
        writeVersions(w, v.versions);
      },
      read: (r) => ({ clientId: r.str16('clientId'), versions: readVersions(r) }),
    },
    response: {
      write: (w, v) => {
        w.u32(v.brokerId, 'brokerId');
        writeVersions(w, v.versions);
      },
      read: (r) => ({ brokerId: r.u32('brokerId'), versions: readVersions(r) }),
    },
  },
  [ApiKey.Metadata]: {
    request: {
      write: (w, v) => writeStrings(w, v.topics, 'topics'),
      read: (r) => ({ topics: readStrings(r, 'topics') }),
    },
    response: {
      write: (w, v) => {
        w.u32(v.brokerId, 'brokerId')
          .str16(v.storage.adapter, 'storage.adapter')
          .str16(v.storage.location, 'storage.location')
          .str16(v.pointers.adapter, 'pointers.adapter')
          .u32(v.maxFrameBytes, 'maxFrameBytes')
          .u32(v.maxReadBytes, 'maxReadBytes')
          .u32(v.maxMessagesPerRequest, 'maxMessagesPerRequest');
        writeTopics(w, v.topics);
      },
      read: (r) => ({
        brokerId: r.u32('brokerId'),
        storage: { adapter: r.str16('storage.adapter'), location: r.str16('storage.location') },
        pointers: { adapter: r.str16('pointers.adapter') },
        maxFrameBytes: r.u32('maxFrameBytes'),
        maxReadBytes: r.u32('maxReadBytes'),
        maxMessagesPerRequest: r.u32('maxMessagesPerRequest'),
        topics: readTopics(r),
      }),
    },
  },
  [ApiKey.Produce]: {
    request: {
      write: (w, v) => {
        if (!isAckLevel(v.acks)) {
          throw new ProtocolError(`acks must be none, received or durable, got ${JSON.stringify(v.acks)}`);
        }
        w.str16(v.topic, 'topic')
          .u32(v.writePartition, 'writePartition')
          .u8(Acks[v.acks], 'acks')
          .u64(v.producerId, 'producerId')
          .u32(v.timeoutMs, 'timeoutMs')
          .u32(v.chunks.length, 'chunks.count');
        v.chunks.forEach(({ bytes, meta }, i) => {
          if (meta.length !== bytes.length) {
            throw new ProtocolError(
              `chunks[${i}]: meta.length is ${meta.length}, the data has ${bytes.length} bytes`,
            );
          }
          if (meta.producerId !== v.producerId) {
            throw new ProtocolError(
              `chunks[${i}]: meta.producerId is ${meta.producerId}, the request's producerId is ${v.producerId}`,
            );
          }
          w.u8(meta.codec, 'codec')
            .u32(meta.messageCount, 'messageCount')
            .u32(meta.uncompressedLength, 'uncompressedLength')
            .u32(meta.crc32, 'crc32')
            .u64(meta.baseSequence, 'baseSequence')
            .i64(meta.minTimestamp, 'minTimestamp')
            .i64(meta.maxTimestamp, 'maxTimestamp')
            .bytes32(bytes, 'data');
        });
      },
      read: (r) => {
        const topic = r.str16('topic');
        const writePartition = r.u32('writePartition');
        const ackByte = r.u8('acks');
        const acks = ACK_LEVEL_OF_BYTE[ackByte];
        if (acks === undefined) throw new ProtocolError(`acks must be 0, 1 or 2, got ${ackByte}`);
        const producerId = r.u64('producerId');
        const timeoutMs = r.u32('timeoutMs');
        const n = r.count('chunks', CHUNK_FIXED_BYTES);
        const chunks: ProduceChunk[] = [];
        for (let i = 0; i < n; i++) {
          const codec = r.u8('codec');
          const messageCount = r.u32('messageCount');
          const uncompressedLength = r.u32('uncompressedLength');
          const crc32 = r.u32('crc32');
          const baseSequence = r.u64('baseSequence');
          const minTimestamp = r.i64('minTimestamp');
          const maxTimestamp = r.i64('maxTimestamp');
          const bytes = r.bytes32('data');
          const meta: ChunkMeta = {
            codec,
            length: bytes.length,
            messageCount,
            uncompressedLength,
            crc32,
            producerId,
            baseSequence,
            minTimestamp,
            maxTimestamp,
          };
          chunks.push({ bytes, meta });
        }
        return { topic, writePartition, acks, producerId, timeoutMs, chunks };
      },
    },
    response: {
      write: (w, v) => {
        w.u32(v.writePartition, 'writePartition')
          .i64(v.sequence, 'sequence')
          .u32(v.firstChunkIndex, 'firstChunkIndex')
          .u32(v.firstMessageIndex, 'firstMessageIndex')
          .i32(v.readPartition, 'readPartition')
          .i64(v.offset, 'offset');
      },
      read: (r) => ({
        writePartition: r.u32('writePartition'),
        sequence: r.i64('sequence'),
        firstChunkIndex: r.u32('firstChunkIndex'),
        firstMessageIndex: r.u32('firstMessageIndex'),
        readPartition: r.i32('readPartition'),
        offset: r.i64('offset'),
      }),
    },
  },
  [ApiKey.CreateTopic]: {
    request: {
      write: (w, v) => {
        const b = v.batch ?? {};
        let flags = 0;
        if (v.writePartitions !== undefined) flags |= CREATE_FLAGS.writePartitions;
        if (v.readPartitions !== undefined) flags |= CREATE_FLAGS.readPartitions;
        if (b.maxBytes !== undefined) flags |= CREATE_FLAGS.maxBytes;
        if (b.maxMessages !== undefined) flags |= CREATE_FLAGS.maxMessages;
        if (b.maxDelayMs !== undefined) flags |= CREATE_FLAGS.maxDelayMs;
        if (v.compression !== undefined) flags |= CREATE_FLAGS.compression;
        if (v.ifNotExists) flags |= CREATE_FLAGS.ifNotExists;
        w.str16(v.name, 'name')
          .u16(flags)
          .u32(v.writePartitions ?? 0, 'writePartitions')
          .u32(v.readPartitions ?? 0, 'readPartitions')
          .u64(b.maxBytes ?? 0, 'batch.maxBytes')
          .u32(b.maxMessages ?? 0, 'batch.maxMessages')
          .u32(b.maxDelayMs ?? 0, 'batch.maxDelayMs')
          .str16(v.compression ?? '', 'compression');
      },
      read: (r) => {
        const name = r.str16('name');
        const flags = r.u16('flags');
        if (flags & ~CREATE_FLAGS_ALL)
          throw new ProtocolError(`unknown CreateTopic flags 0x${flags.toString(16)}`);
        const writePartitions = r.u32('writePartitions');
        const readPartitions = r.u32('readPartitions');
        const maxBytes = r.u64('batch.maxBytes');
        const maxMessages = r.u32('batch.maxMessages');
        const maxDelayMs = r.u32('batch.maxDelayMs');
        const compression = r.str16('compression');
        const out: CreateTopicRequest = { name };
        if (flags & CREATE_FLAGS.writePartitions) out.writePartitions = writePartitions;
        if (flags & CREATE_FLAGS.readPartitions) out.readPartitions = readPartitions;
        const batch: Partial<BatchSettingsInfo> = {};
        if (flags & CREATE_FLAGS.maxBytes) batch.maxBytes = maxBytes;
        if (flags & CREATE_FLAGS.maxMessages) batch.maxMessages = maxMessages;
        if (flags & CREATE_FLAGS.maxDelayMs) batch.maxDelayMs = maxDelayMs;
        if (Object.keys(batch).length > 0) out.batch = batch;
        if (flags & CREATE_FLAGS.compression) out.compression = compression;
        if (flags & CREATE_FLAGS.ifNotExists) out.ifNotExists = true;
        return out;
      },
    },
    response: {
      write: (w, v) => {
        w.bool(v.created);
        writeTopicInfo(w, v.topic);
      },
      read: (r) => ({ created: r.bool('created'), topic: readTopicInfo(r) }),
    },
  },
  [ApiKey.ListTopics]: {
    request: { write: () => {}, read: () => ({}) },
    response: {
      write: (w, v) => writeTopics(w, v.topics),
      read: (r) => ({ topics: readTopics(r) }),
    },
  },
  [ApiKey.DescribeTopic]: {
    request: {
      write: (w, v) => void w.str16(v.name, 'name'),
      read: (r) => ({ name: r.str16('name') }),
    },
    response: {
      write: (w, v) => {
        writeTopicInfo(w, v.topic);
        w.u32(v.partitions.length, 'partitions.count');
        for (const p of v.partitions) w.u32(p.partition, 'partition').u64(p.low, 'low').u64(p.high, 'high');
      },
      read: (r) => {
        const topic = readTopicInfo(r);
        const n = r.count('partitions', 20);
        const partitions: PartitionWatermarks[] = [];
        for (let i = 0; i < n; i++)
          partitions.push({ partition: r.u32('partition'), low: r.u64('low'), high: r.u64('high') });
        return { topic, partitions };
      },
    },
  },
  [ApiKey.JoinGroup]: {
    request: {
      write: (w, v) => {
        w.str16(v.group, 'group')
          .str16(v.topic, 'topic')
          .u32(v.sessionTimeoutMs, 'sessionTimeoutMs')
          .bool(v.fromBeginning)
          .str16(v.clientId, 'clientId');
      },
      read: (r) => ({
        group: r.str16('group'),
        topic: r.str16('topic'),
        sessionTimeoutMs: r.u32('sessionTimeoutMs'),
        fromBeginning: r.bool('fromBeginning'),
        clientId: r.str16('clientId'),
      }),
    },
    response: {
      write: (w, v) => {
        w.str16(v.memberId, 'memberId').u32(v.readPartitions, 'readPartitions');
        writeGroupState(w, v);
      },
      read: (r) => {
        const memberId = r.str16('memberId');
        const readPartitions = r.u32('readPartitions');
        return { memberId, readPartitions, ...readGroupState(r) };
      },
    },
  },
  [ApiKey.Heartbeat]: {
    request: member,
    response: { write: writeGroupState, read: readGroupState },
  },
  [ApiKey.LeaveGroup]: { request: member, response: empty },
  [ApiKey.FetchPointers]: {
    request: {
      write: (w, v) =>
        void w.str16(v.memberId, 'memberId').u32(v.maxRecords, 'maxRecords').u32(v.maxWaitMs, 'maxWaitMs'),
      read: (r) => ({
        memberId: r.str16('memberId'),
        maxRecords: r.u32('maxRecords'),
        maxWaitMs: r.u32('maxWaitMs'),
      }),
    },
    response: {
      write: (w, v) => {
        writeGroupState(w, v);
        w.u32(v.records.length, 'records.count');
        for (const rec of v.records) {
          w.u32(rec.partition, 'partition').u64(rec.offset, 'offset').i64(rec.timestamp, 'timestamp');
          w.bytes32(encodePointer(rec.pointer), 'pointer');
        }
      },
      read: (r) => {
        const state = readGroupState(r);
        const n = r.count('records', 24);
        const records: WirePointerRecord[] = [];
        for (let i = 0; i < n; i++) {
          const partition = r.u32('partition');
          const offset = r.u64('offset');
          const timestamp = r.i64('timestamp');
          const bytes = r.bytes32('pointer');
          let pointer: BatchPointer;
          try {
            pointer = decodePointer(bytes);
          } catch (e) {
            throw new ProtocolError(`record ${i}: ${errorMessage(e)}`, { cause: e });
          }
          records.push({ partition, offset, timestamp, pointer });
        }
        return { ...state, records };
      },
    },
  },
  [ApiKey.CommitOffsets]: {
    request: {
      write: (w, v) => {
        w.str16(v.memberId, 'memberId').u32(v.positions.length, 'positions.count');
        for (const p of v.positions)
          w.u32(p.partition, 'partition').u64(p.offset, 'offset').u32(p.messageIndex, 'messageIndex');
      },
      read: (r) => {
        const memberId = r.str16('memberId');
        const n = r.count('positions', 16);
        const positions: WireCommitPosition[] = [];
        for (let i = 0; i < n; i++) {
          positions.push({
            partition: r.u32('partition'),
            offset: r.u64('offset'),
            messageIndex: r.u32('messageIndex'),
          });
        }
        return { memberId, positions };
      },
    },
    response: empty,
  },
  [ApiKey.FetchCommitted]: {
    request: {
      write: (w, v) => {
        w.str16(v.memberId, 'memberId');
        writeU32s(w, v.partitions, 'partitions');
      },
      read: (r) => ({ memberId: r.str16('memberId'), partitions: readU32s(r, 'partitions') }),
    },
    response: {
      write: (w, v) => {
        w.u32(v.positions.length, 'positions.count');
        for (const p of v.positions) {
          w.u32(p.partition, 'partition').bool(p.committed !== undefined);
          w.u64(p.committed?.offset ?? 0, 'offset').u32(p.committed?.messageIndex ?? 0, 'messageIndex');
        }
      },
      read: (r) => {
        const n = r.count('positions', 17);
        const positions: FetchCommittedResponse['positions'] = [];
        for (let i = 0; i < n; i++) {
          const partition = r.u32('partition');
          const has = r.bool('committed');
          const offset = r.u64('offset');
          const messageIndex = r.u32('messageIndex');
          positions.push(has ? { partition, committed: { offset, messageIndex } } : { partition });
        }
        return { positions };
      },
    },
  },
  [ApiKey.Seek]: {
    request: {
      write: (w, v) =>
        void w.str16(v.memberId, 'memberId').u32(v.partition, 'partition').u64(v.offset, 'offset'),
      read: (r) => ({
        memberId: r.str16('memberId'),
        partition: r.u32('partition'),
        offset: r.u64('offset'),
      }),
    },
    response: empty,
  },
  [ApiKey.OffsetForTimestamp]: {
    request: {
      write: (w, v) =>
        void w.str16(v.topic, 'topic').u32(v.partition, 'partition').i64(v.timestamp, 'timestamp'),
      read: (r) => ({
        topic: r.str16('topic'),
        partition: r.u32('partition'),
        timestamp: r.i64('timestamp'),
      }),
    },
    response: {
      write: (w, v) => void w.u64(v.offset, 'offset'),
      read: (r) => ({ offset: r.u64('offset') }),
    },
  },
  [ApiKey.Watermarks]: {
    request: {
      write: (w, v) => void w.str16(v.topic, 'topic').u32(v.partition, 'partition'),
      read: (r) => ({ topic: r.str16('topic'), partition: r.u32('partition') }),
    },
    response: {
      write: (w, v) => void w.u64(v.low, 'low').u64(v.high, 'high'),
      read: (r) => ({ low: r.u64('low'), high: r.u64('high') }),
    },
  },
  [ApiKey.ReadObject]: {
    request: {
      write: (w, v) => void w.str16(v.key, 'key').u64(v.offset, 'offset').u32(v.length, 'length'),
      read: (r) => ({ key: r.str16('key'), offset: r.u64('offset'), length: r.u32('length') }),
    },
    response: {
      write: (w, v) => void w.u64(v.objectSize, 'objectSize').u64(v.offset, 'offset').bytes32(v.data, 'data'),
      read: (r) => ({ objectSize: r.u64('objectSize'), offset: r.u64('offset'), data: r.bytes32('data') }),
    },
  },
  [ApiKey.ListGroups]: listGroupsCodecs,
  [ApiKey.DescribeGroup]: describeGroupCodecs,
  [ApiKey.ResetOffsets]: resetOffsetsCodecs,
  [ApiKey.SaslHandshake]: saslHandshakeCodecs,
  [ApiKey.SaslAuthenticate]: saslAuthenticateCodecs,
};

/** Versions after v1, by api: only what changed (the revoke phase of consumer groups, quota throttle times). */
const laterVersions: { [K in ApiKey]?: Record<number, Codecs<K>> } = {
  // v2: brokers of the cluster and the owner of every write partition (cluster-metadata.ts).
  [ApiKey.Metadata]: {
    2: {
      request: codecs[ApiKey.Metadata].request,
      response: withClusterMetadata(codecs[ApiKey.Metadata].response),
    },
  },
  [ApiKey.JoinGroup]: {
    2: {
      request: codecs[ApiKey.JoinGroup].request,
      response: withRevoking(codecs[ApiKey.JoinGroup].response),
    },
  },
  [ApiKey.Heartbeat]: {
    2: {
      request: {
        write: (w, v) => {
          member.write(w, v);
          writeU32s(w, v.released ?? [], 'released');
        },
        read: (r) => ({ ...member.read(r), released: readU32s(r, 'released') }),
      },
      response: withRevoking(codecs[ApiKey.Heartbeat].response),
    },
  },
  [ApiKey.FetchPointers]: {
    2: {
      request: codecs[ApiKey.FetchPointers].request,
      response: withRevoking(codecs[ApiKey.FetchPointers].response),
    },
  },
  // v2: the response carries the quota throttle time (throttle.ts).
  [ApiKey.Produce]: {
    2: {
      request: codecs[ApiKey.Produce].request,
      response: withThrottleTime(codecs[ApiKey.Produce].response),
    },
  },
  [ApiKey.ReadObject]: {
    2: {
      request: codecs[ApiKey.ReadObject].request,
      response: withThrottleTime(codecs[ApiKey.ReadObject].response),
    },
  },
  // v2: the lag of each partition in messages (group-admin.ts).
  [ApiKey.DescribeGroup]: { 2: describeGroupV2Codecs },
};

function codecFor(apiKey: number, apiVersion: number): Codecs<ApiKey> {
  if (!isApiKey(apiKey)) throw new ProtocolError(`unknown api key ${apiKey}`);
  const range = SUPPORTED_VERSIONS[apiKey];
  if (apiVersion < range.min || apiVersion > range.max) {
    throw new ProtocolError(
      `${apiName(apiKey)} version ${apiVersion} is not supported (supported: ${range.min}-${range.max})`,
    );
  }
  const later = (laterVersions[apiKey] as Record<number, Codecs<ApiKey>> | undefined)?.[apiVersion];
  return later ?? (codecs[apiKey] as Codecs<ApiKey>);
}

// ---------------------------------------------------------------------------------------------
// Whole frames
// ---------------------------------------------------------------------------------------------

/**
 * Encodes a complete request frame (length prefix included) as a list of buffers to write in
 * order; large byte fields (chunk data) are referenced, not copied.
 */
export function encodeRequest<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: RequestTypes[K],
): Buffer[] {
  const codec = codecFor(apiKey, apiVersion);
  const w = new Writer();
  w.u32(0).u16(apiKey, 'apiKey').u16(apiVersion, 'apiVersion').u32(correlationId, 'correlationId');
  (codec.request as BodyCodec<RequestTypes[K]>).write(w, body);
  return sealFrame(w);
}

/** Decodes a request body (the bytes after the request header) of a known api and version. */
export function decodeRequestBody<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  body: Buffer,
): RequestTypes[K] {
  const codec = codecFor(apiKey, apiVersion);
  const r = new Reader(body);
  const v = (codec.request as BodyCodec<RequestTypes[K]>).read(r);
  r.done(`${apiName(apiKey)} v${apiVersion} request`);
  return v;
}

/** Decodes any request from its header and body; throws `ProtocolError` for unknown apis and versions. */
export function decodeRequest(header: RequestHeader, body: Buffer): AnyRequest {
  return {
    apiKey: header.apiKey,
    apiVersion: header.apiVersion,
    body: decodeRequestBody(header.apiKey as ApiKey, header.apiVersion, body),
  } as AnyRequest;
}

/** Encodes a successful response frame (length prefix included; error code 0). */
export function encodeResponse<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseTypes[K],
): Buffer[] {
  const codec = codecFor(apiKey, apiVersion);
  const w = new Writer();
  w.u32(0).u32(correlationId, 'correlationId').u16(0);
  (codec.response as BodyCodec<ResponseTypes[K]>).write(w, body);
  return sealFrame(w);
}

/**
 * Encodes an error response frame: the body is a string16 message. For ApiVersions the
 * broker's supported versions follow the message (`versions` given), so a client that sent an
 * unsupported ApiVersions version still learns what to use.
 */
export function encodeErrorResponse(
  correlationId: number,
  errorCode: number,
  message: string,
  versions?: { brokerId: number; versions: ApiVersionEntry[] },
): Buffer {
  if (errorCode === 0) throw new ProtocolError('an error response needs a non-zero error code');
  const w = new Writer();
  w.u32(0).u32(correlationId, 'correlationId').u16(errorCode, 'errorCode');
  // Truncate long messages at a character boundary so they always fit a string16.
  let msg = message;
  while (Buffer.byteLength(msg, 'utf8') > 4096) msg = msg.slice(0, Math.floor(msg.length * 0.75));
  w.str16(msg, 'message');
  if (versions) {
    w.u32(versions.brokerId, 'brokerId');
    writeVersions(w, versions.versions);
  }
  const parts = sealFrame(w);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export interface DecodedError {
  message: string;
  /** Present on ApiVersions error responses. */
  versions?: ApiVersionsResponse;
}

/** Decodes the body of a response whose error code is non-zero. */
export function decodeErrorBody(apiKey: number, body: Buffer): DecodedError {
  const r = new Reader(body);
  const message = r.str16('message');
  if (apiKey === ApiKey.ApiVersions && r.remaining > 0) {
    const brokerId = r.u32('brokerId');
    const versions = readVersions(r);
    r.done('ApiVersions error response');
    return { message, versions: { brokerId, versions } };
  }
  r.done('error response');
  return { message };
}

/** Decodes a successful response body (error code 0) of a known api and version. */
export function decodeResponseBody<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  body: Buffer,
): ResponseTypes[K] {
  const codec = codecFor(apiKey, apiVersion);
  const r = new Reader(body);
  const v = (codec.response as BodyCodec<ResponseTypes[K]>).read(r);
  r.done(`${apiName(apiKey)} v${apiVersion} response`);
  return v;
}

/** Total encoded size of a frame from `encodeRequest`/`encodeResponse` (length prefix included). */
export function framePartsLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function sealFrame(w: Writer): Buffer[] {
  const total = w.length;
  const parts = w.finish();
  parts[0]!.writeUInt32BE(total - LENGTH_PREFIX_BYTES, 0);
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Version negotiation
// ---------------------------------------------------------------------------------------------

/** This build's supported versions as ApiVersions entries. */
export function supportedVersionEntries(): ApiVersionEntry[] {
  return API_KEYS.map((k) => ({
    apiKey: k,
    minVersion: SUPPORTED_VERSIONS[k].min,
    maxVersion: SUPPORTED_VERSIONS[k].max,
  }));
}

/**
 * The version to use per api: the highest version both sides support. Apis with no common
 * version are left out (the caller must not use them).
 */
export function negotiateVersions(
  mine: readonly ApiVersionEntry[],
  theirs: readonly ApiVersionEntry[],
): Map<number, number> {
  const out = new Map<number, number>();
  const other = new Map(theirs.map((e) => [e.apiKey, e]));
  for (const m of mine) {
    const t = other.get(m.apiKey);
    if (!t) continue;
    const hi = Math.min(m.maxVersion, t.maxVersion);
    const lo = Math.max(m.minVersion, t.minVersion);
    if (hi >= lo) out.set(m.apiKey, hi);
  }
  return out;
}
