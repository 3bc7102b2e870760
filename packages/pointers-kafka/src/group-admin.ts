import {
  type GroupDescription,
  type GroupListing,
  type GroupMember,
  GroupNotEmptyError,
  type GroupStatus,
  InvalidInputError,
  mapLimit,
  NotFoundError,
  type PartitionOffset,
  type TopicCommitPosition,
} from '@barge/core';
import { type Admin, AssignerProtocol, type MemberDescription } from 'kafkajs';
import { parseMessageIndex } from './commit-metadata.js';
import { bargeTopicName, consumerGroupId, pointerTopicName, toSafeNumber } from './kafka.js';
import type { KafkaPointersConfig } from './options.js';

export interface KafkaGroupAdminDeps {
  config: KafkaPointersConfig;
  /** Runs `fn` with the queue's shared admin client, mapping failures to core errors. */
  withAdmin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T>;
  /** Read partitions of a Barge topic; `NotFoundError` when its pointer topic is missing. */
  partitions(topic: string): Promise<number>;
}

/** Kafka group states, as Barge reports them. `Dead` is a group Kafka has forgotten. */
const STATUS: Record<string, GroupStatus> = {
  Empty: 'empty',
  Dead: 'empty',
  Stable: 'stable',
};

/**
 * The group side of the Kafka pointer queue's admin: Barge groups are the Kafka consumer groups
 * `groupPrefix + group`, and only their pointer topics (`topicPrefix + topic`) are reported.
 * Members and assignments come from the group coordinator, so consumers connected to any broker
 * (or directly to Kafka) are listed.
 */
export class KafkaGroupAdmin {
  constructor(private readonly d: KafkaGroupAdminDeps) {}

  async listGroups(topic?: string): Promise<GroupListing[]> {
    const prefix = this.d.config.groupPrefix;
    const ids = await this.d.withAdmin(
      'list consumer groups',
      async (admin) => (await admin.listGroups()).groups,
    );
    const names = ids
      .filter((g) => g.groupId.startsWith(prefix) && g.groupId.length > prefix.length)
      .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
      .map((g) => g.groupId.slice(prefix.length))
      .sort();
    const described = await mapLimit(names, 8, (name) => this.#describe(name).then((d) => ({ name, d })));
    const out: GroupListing[] = [];
    for (const { name, d } of described) {
      const topics = new Set([...d.subscribed, ...d.committed.map((c) => c.topic)]);
      for (const m of d.members) for (const a of m.assignment) topics.add(a.topic);
      if (topics.size === 0 || (topic !== undefined && !topics.has(topic))) continue;
      out.push({ group: name, status: d.status, members: d.members.length, topics: [...topics].sort() });
    }
    return out;
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    const { status, members, committed } = await this.#describe(group);
    if (members.length === 0 && committed.length === 0) {
      throw new NotFoundError(`consumer group ${group} has no members and no committed offsets`);
    }
    return { group, status, members, committed };
  }

  async resetOffsets(group: string, topic: string, positions: readonly PartitionOffset[]): Promise<void> {
    const groupId = consumerGroupId(this.d.config, group);
    const kt = pointerTopicName(this.d.config, topic);
    if (!Array.isArray(positions)) throw new InvalidInputError('resetOffsets needs an array of positions');
    const n = await this.d.partitions(topic);
    const highs = await this.d.withAdmin(`read the watermarks of "${kt}"`, (admin) =>
      admin.fetchTopicOffsets(kt),
    );
    for (const { partition, offset } of positions) {
      if (!Number.isSafeInteger(partition) || partition < 0 || partition >= n) {
        throw new NotFoundError(
          `topic "${topic}" has read partitions 0..${n - 1}; there is no partition ${partition}`,
        );
      }
      const entry = highs.find((o) => o.partition === partition);
      const high = entry ? toSafeNumber(entry.high, `high watermark of "${kt}" partition ${partition}`) : 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > high) {
        throw new InvalidInputError(
          `reset offset of ${topic}/${partition} must be an integer in [0, ${high}] (the high watermark), got ${offset}`,
        );
      }
    }
    if (positions.length === 0) return;
    const { members } = await this.#describe(group);
    if (members.length > 0) throw notEmpty(group, members);
    // kafkajs commits the new offsets through a consumer that joins the (empty) group for a moment,
    // and refuses, as Kafka's own tool does, while the group has members.
    await this.d.withAdmin(`reset offsets of group "${groupId}" on "${kt}"`, async (admin) => {
      try {
        await admin.setOffsets({
          groupId,
          topic: kt,
          partitions: positions.map((p) => ({ partition: p.partition, offset: String(p.offset) })),
        });
      } catch (e) {
        if (/no running instances/.test(String((e as Error)?.message))) throw notEmpty(group, []);
        throw e;
      }
    });
  }

  async #describe(group: string) {
    const groupId = consumerGroupId(this.d.config, group);
    const [described, offsets] = await this.d.withAdmin(`describe consumer group "${groupId}"`, (admin) =>
      Promise.all([admin.describeGroups([groupId]), admin.fetchOffsets({ groupId })]),
    );
    const g = described.groups.find((x) => x.groupId === groupId);
    const consumer = g !== undefined && g.protocolType === 'consumer';
    const members = consumer ? g.members.map((m) => this.#member(m)).sort(byMemberId) : [];
    const subscribed = new Set<string>();
    if (consumer) for (const m of g.members) for (const t of this.#subscribed(m)) subscribed.add(t);
    const committed: TopicCommitPosition[] = [];
    for (const t of offsets) {
      const topic = this.#bargeTopic(t.topic);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const offset = toSafeNumber(p.offset, `committed offset of "${t.topic}" partition ${p.partition}`);
        if (offset < 0) continue;
        const messageIndex = parseMessageIndex(p.metadata);
        committed.push({ topic, partition: p.partition, offset, ...(messageIndex ? { messageIndex } : {}) });
      }
    }
    committed.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const status: GroupStatus = STATUS[g?.state ?? 'Dead'] ?? 'rebalancing';
    return { status, members, committed, subscribed };
  }

  #member(m: MemberDescription): GroupMember {
    const assignment: GroupMember['assignment'] = [];
    const decoded = decodeOrUndefined(() => AssignerProtocol.MemberAssignment.decode(m.memberAssignment));
    for (const [kt, partitions] of Object.entries(decoded?.assignment ?? {})) {
      const topic = this.#bargeTopic(kt);
      if (topic !== undefined) assignment.push({ topic, partitions: [...partitions].sort((a, b) => a - b) });
    }
    assignment.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
    return {
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost.replace(/^\//, ''),
      assignment,
    };
  }

  #subscribed(m: MemberDescription): string[] {
    const decoded = decodeOrUndefined(() => AssignerProtocol.MemberMetadata.decode(m.memberMetadata));
    return (decoded?.topics ?? []).flatMap((kt) => this.#bargeTopic(kt) ?? []);
  }

  #bargeTopic(kafkaTopic: string): string | undefined {
    return bargeTopicName(this.d.config, kafkaTopic);
  }
}

function notEmpty(group: string, members: readonly GroupMember[]): GroupNotEmptyError {
  const who = members.length > 0 ? ` (${members.map((m) => m.memberId).join(', ')})` : '';
  return new GroupNotEmptyError(
    `consumer group ${group} has ${members.length || 'running'} member(s)${who}; offsets can only be reset while it has none: stop its consumers first`,
  );
}

/** Member metadata and assignments of other protocols (or empty ones) do not decode: no topics then. */
function decodeOrUndefined<T>(f: () => T | null): T | undefined {
  try {
    return f() ?? undefined;
  } catch {
    return undefined;
  }
}

const byMemberId = (a: GroupMember, b: GroupMember) =>
  a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
