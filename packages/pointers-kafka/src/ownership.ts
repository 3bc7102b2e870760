import { errorMessage } from '@barge/core';
import { AssignerProtocol, type PartitionAssigner, PartitionAssigners } from 'kafkajs';
import { commitMetadata, parseCommitMetadata } from './commit-metadata.js';

/**
 * The revoke phase on Kafka. kafkajs rebalances eagerly and offers no hook before it rejoins, so
 * a member learns that it lost partitions only once they are assigned elsewhere. Two records
 * close the gap:
 * - Each member joins with the partitions it handed out work from (`ownershipAssigner`'s
 *   userData), so the member that gets one can see who worked on it in the last generation.
 * - The commit metadata names the member that committed a position (`owner`), and `released`
 *   once that member committed in its revoke phase (or left).
 * A member that gets a partition someone else worked on waits until that member released it,
 * left the group, or the revoke timeout passed, then starts at the committed offset. Kafka
 * accepts commits of any partition from a member of the current generation.
 */

/** A committed offset as stored in Kafka: decimal offset string and the metadata string. */
export interface StoredOffset {
  offset: string;
  metadata: string | null;
}

const ASSIGNER = 'BargeRoundRobin';

/**
 * kafkajs's round robin assignment, joining with the partitions `worked()` names as userData.
 * Listed before plain round robin, so groups with members that lack it still form.
 */
export function ownershipAssigner(worked: () => readonly number[]): PartitionAssigner {
  return (config) => {
    const inner = PartitionAssigners.roundRobin(config);
    return {
      name: ASSIGNER,
      version: inner.version,
      assign: (group) => inner.assign.call(inner, group),
      protocol: ({ topics }) => ({
        name: ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: inner.version,
          topics,
          userData: Buffer.from(JSON.stringify({ worked: worked() })),
        }),
      }),
    };
  };
}

/** A member of the group and the partitions it worked on in the last generation. */
export interface MemberWork {
  memberId: string;
  worked: readonly number[];
}

/** The partitions a member joined with (`ownershipAssigner`); [] for other assigners. */
export function workedOf(memberMetadata: Buffer): number[] {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(memberMetadata) ?? {};
    if (!userData || userData.length === 0) return [];
    const v = JSON.parse(userData.toString()) as { worked?: unknown };
    return Array.isArray(v.worked) ? v.worked.filter((p): p is number => Number.isInteger(p)) : [];
  } catch {
    return [];
  }
}

export interface OwnershipDeps {
  /** This member's id in the Kafka group. */
  readonly self: string;
  readCommitted(partitions: readonly number[]): Promise<(StoredOffset | undefined)[]>;
  members(): Promise<MemberWork[]>;
  /** Where a partition without a committed offset starts (earliest or latest). */
  start(partition: number): Promise<number>;
  commit(entries: { partition: number; offset: number; metadata: string }[]): Promise<void>;
  /** False once a newer rebalance or a close made this work stale. */
  current(): boolean;
  log(level: 'warn' | 'info', msg: string, fields?: Record<string, unknown>): void;
}

const RECHECK_MS = 100;

/**
 * Waits until every other live member that worked on `partitions` released them (or
 * `deadline`), then resolves to the offset each starts at; undefined when the work went stale.
 * A committed position of another member's is claimed (re-committed under this member's id).
 */
export async function takeOver(
  deps: OwnershipDeps,
  partitions: readonly number[],
  deadline: number,
): Promise<Map<number, number> | undefined> {
  let waiting = [...partitions];
  let stored: (StoredOffset | undefined)[] = [];
  for (;;) {
    const members = await deps.members();
    stored = await deps.readCommitted(partitions);
    if (!deps.current()) return undefined;
    waiting = waiting.filter((p) => {
      const c = parseCommitMetadata(stored[partitions.indexOf(p)]?.metadata);
      const workedOn = members.filter((m) => m.memberId !== deps.self && m.worked.includes(p));
      return workedOn.some((m) => !(c.owner === m.memberId && c.released === true));
    });
    if (waiting.length === 0) break;
    if (Date.now() >= deadline) {
      deps.log('warn', 'kafka: the previous owner did not release partitions in time; taking them over', {
        partitions: waiting,
      });
      break;
    }
    await new Promise((r) => setTimeout(r, RECHECK_MS));
  }
  const starts = new Map<number, number>();
  const claims: { partition: number; offset: number; metadata: string }[] = [];
  for (const [i, partition] of partitions.entries()) {
    const s = stored[i];
    const committed = s ? Number(s.offset) : -1;
    if (committed < 0) {
      starts.set(partition, await deps.start(partition));
      continue;
    }
    starts.set(partition, committed);
    const c = parseCommitMetadata(s?.metadata);
    if (c.owner !== deps.self) {
      claims.push({
        partition,
        offset: committed,
        metadata: commitMetadata(c.messageIndex, deps.self, false, c.clientMetadata),
      });
    }
  }
  if (!deps.current()) return undefined;
  if (claims.length > 0) await deps.commit(claims);
  return starts;
}

/**
 * Marks `worked` partitions released: the committed position (or, where nothing is committed,
 * where this member started) under this member's id. Best effort: a failure only makes the
 * next owner wait for the revoke timeout.
 */
export async function release(deps: OwnershipDeps, worked: ReadonlyMap<number, number>): Promise<void> {
  const partitions = [...worked.keys()];
  if (partitions.length === 0) return;
  try {
    const stored = await deps.readCommitted(partitions);
    const entries = partitions.map((partition, i) => {
      const s = stored[i];
      const committed = s ? Number(s.offset) : -1;
      const c = parseCommitMetadata(s?.metadata);
      return committed >= 0
        ? {
            partition,
            offset: committed,
            metadata: commitMetadata(c.messageIndex, deps.self, true, c.clientMetadata),
          }
        : { partition, offset: worked.get(partition)!, metadata: commitMetadata(undefined, deps.self, true) };
    });
    await deps.commit(entries);
  } catch (e) {
    deps.log(
      'warn',
      'kafka: marking partitions released failed; their next owner waits for the revoke timeout',
      {
        partitions,
        error: errorMessage(e),
      },
    );
  }
}
