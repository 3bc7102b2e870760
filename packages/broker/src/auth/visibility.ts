import {
  ApiKey,
  type Operation,
  type Principal,
  type RequestTypes,
  type Resource,
  type ResponseTypes,
} from '@barge/core';
import type { Handler, HandlerTable } from '../handlers/types.js';

export type May = (principal: Principal | undefined, operation: Operation, resource: Resource) => boolean;

/**
 * Wraps the handlers whose answers list topics or groups so a principal sees only those it may
 * describe, as Kafka filters Metadata and ListGroups: Metadata for every topic, ListTopics,
 * ListGroups (and the topics of each group), DescribeGroup (partitions and assignments of
 * other topics are left out). Requests naming a resource are checked before (`requiredAccess`).
 */
export function withVisibilityFilters(table: HandlerTable, may: May): HandlerTable {
  const out: HandlerTable = { ...table };
  const seesTopic = (p: Principal | undefined) => (name: string) =>
    may(p, 'describe', { type: 'topic', name });
  const wrap = <K extends keyof HandlerTable>(
    key: K,
    filter: (res: ResponseTypes[K], p: Principal | undefined, body: RequestTypes[K]) => ResponseTypes[K],
  ) => {
    const inner = table[key] as Handler<K> | undefined;
    if (!inner) return;
    const wrapped: Handler<K> = async (conn, body, version, request) =>
      filter(await inner(conn, body, version, request), conn.principal, body);
    (out as Record<K, Handler<K>>)[key] = wrapped;
  };
  wrap(ApiKey.Metadata, (res, p, body) => {
    if (body.topics.length > 0) return res;
    // v2 owners are one list per topic of the answer: filter them with the topics.
    const seen = res.topics.map((t) => seesTopic(p)(t.name));
    const topics = res.topics.filter((_, i) => seen[i]);
    const c = res.cluster;
    return {
      ...res,
      topics,
      ...(c ? { cluster: { ...c, owners: c.owners.filter((_, i) => seen[i]) } } : {}),
    };
  });
  wrap(ApiKey.ListTopics, (res, p) => ({ ...res, topics: res.topics.filter((t) => seesTopic(p)(t.name)) }));
  wrap(ApiKey.ListGroups, (res, p) => {
    const sees = seesTopic(p);
    const groups = res.groups
      .filter((g) => may(p, 'describe', { type: 'group', name: g.group }))
      .map((g) => ({ ...g, topics: g.topics.filter(sees) }));
    return { ...res, groups };
  });
  wrap(ApiKey.DescribeGroup, (res, p) => {
    const sees = seesTopic(p);
    return {
      ...res,
      partitions: res.partitions.filter((x) => sees(x.topic)),
      members: res.members.map((m) => ({ ...m, assignment: m.assignment.filter((a) => sees(a.topic)) })),
    };
  });
  return out;
}
