import { type AnyRequest, ApiKey, type Operation, type RequestTypes, type Resource } from '@barge/core';
import { BATCH_PREFIX } from '../keys.js';

/** One permission a request needs: `operation` on `resource`. */
export interface Access {
  readonly operation: Operation;
  readonly resource: Resource;
}

/** The group and topic a consumer-group member joined (undefined: no such member). */
export type MemberScope = { readonly group: string; readonly topic: string } | undefined;

export interface AccessLookups {
  member(memberId: string): MemberScope;
}

type Rule<K extends ApiKey> = (body: RequestTypes[K], lookups: AccessLookups) => readonly Access[];

const topic = (name: string): Resource => ({ type: 'topic', name });
const group = (name: string): Resource => ({ type: 'group', name });
const none = (): readonly Access[] => [];

/** A member's every request needs read on its group and on its topic (JoinGroup's permissions). */
const asMember = (memberId: string, lookups: AccessLookups): readonly Access[] => {
  const m = lookups.member(memberId);
  // An unknown member id is answered UNKNOWN_MEMBER by the handler; there is nothing to protect.
  if (!m) return [];
  return [
    { operation: 'read', resource: group(m.group) },
    { operation: 'read', resource: topic(m.topic) },
  ];
};

/** The topic a batch key (`topics/<topic>/<write partition>/...`) belongs to. */
function batchKeyTopic(key: string): string | undefined {
  if (!key.startsWith(BATCH_PREFIX)) return undefined;
  const name = key.slice(BATCH_PREFIX.length).split('/', 1)[0];
  return name || undefined;
}

/**
 * What each api needs, as in Kafka (docs/protocol.md §6, "Authorization"). Every api has an
 * entry, so a new api cannot be added without deciding. Lists (Metadata for every topic,
 * ListTopics, ListGroups) need nothing here: their results are filtered to what the principal
 * may describe (`withVisibilityFilters`).
 */
const RULES: { readonly [K in ApiKey]: Rule<K> } = {
  [ApiKey.ApiVersions]: none,
  [ApiKey.SaslHandshake]: none,
  [ApiKey.SaslAuthenticate]: none,
  [ApiKey.Metadata]: (b) => b.topics.map((t) => ({ operation: 'describe', resource: topic(t) })),
  [ApiKey.Produce]: (b) => [{ operation: 'write', resource: topic(b.topic) }],
  // Also granted by create on the cluster (AclSet.authorize).
  [ApiKey.CreateTopic]: (b) => [{ operation: 'create', resource: topic(b.name) }],
  [ApiKey.ListTopics]: none,
  [ApiKey.DescribeTopic]: (b) => [{ operation: 'describe', resource: topic(b.name) }],
  [ApiKey.JoinGroup]: (b) => [
    { operation: 'read', resource: group(b.group) },
    { operation: 'read', resource: topic(b.topic) },
  ],
  [ApiKey.Heartbeat]: (b, l) => asMember(b.memberId, l),
  [ApiKey.LeaveGroup]: (b, l) => asMember(b.memberId, l),
  [ApiKey.FetchPointers]: (b, l) => asMember(b.memberId, l),
  [ApiKey.CommitOffsets]: (b, l) => asMember(b.memberId, l),
  [ApiKey.FetchCommitted]: (b, l) => asMember(b.memberId, l),
  [ApiKey.Seek]: (b, l) => asMember(b.memberId, l),
  // Kafka's ListOffsets: describe.
  [ApiKey.OffsetForTimestamp]: (b) => [{ operation: 'describe', resource: topic(b.topic) }],
  [ApiKey.Watermarks]: (b) => [{ operation: 'describe', resource: topic(b.topic) }],
  [ApiKey.ReadObject]: (b) => {
    const name = batchKeyTopic(b.key);
    // Keys outside topics/ are refused by the read proxy (ACCESS_DENIED) whoever asks.
    return name === undefined ? [] : [{ operation: 'read', resource: topic(name) }];
  },
  [ApiKey.ListGroups]: (b) =>
    b.topic === undefined ? [] : [{ operation: 'describe', resource: topic(b.topic) }],
  [ApiKey.DescribeGroup]: (b) => [
    { operation: 'describe', resource: group(b.group) },
    ...(b.topic === undefined ? [] : [{ operation: 'describe' as const, resource: topic(b.topic) }]),
  ],
  // Kafka's AlterConsumerGroupOffsets: read on the group and the topic.
  [ApiKey.ResetOffsets]: (b) => [
    { operation: 'read', resource: group(b.group) },
    { operation: 'read', resource: topic(b.topic) },
  ],
};

/** The permissions `req` needs, all of them. */
export function requiredAccess(req: AnyRequest, lookups: AccessLookups): readonly Access[] {
  return (RULES[req.apiKey] as Rule<ApiKey>)(req.body, lookups);
}
