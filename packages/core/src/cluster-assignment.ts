import type { TopicPartitions, WritePartitionRef } from './cluster.js';
import { chooseExtras, type Extras } from './cluster-assignment-extras.js';

/**
 * The cluster's assignor: which broker owns which write partition. Pure and deterministic, so
 * the group leader computes it and any broker can check it.
 *
 * `assignWritePartitions(topics, members)` with N write partitions in all and M > 0 members
 * guarantees, for every input:
 * 1. every write partition of every topic has exactly one owner, the broker id of a member;
 * 2. per topic of W write partitions, every member owns floor(W/M) or ceil(W/M) of them;
 * 3. overall, every member owns floor(N/M) or ceil(N/M) write partitions
 *    (1 to 3 always hold together: stickiness never weakens them);
 * 4. sticky, exactly: of all assignments meeting 1 to 3, it leaves the most write partitions
 *    with the member claiming them (`owned`; a write partition claimed by several members counts
 *    as claimed by the one `fallbackOwner` picks among them), so it moves the fewest. A member
 *    keeps every claim on a topic where it claims no more than its quota (the lowest-numbered up
 *    to its quota otherwise), and a result fed back as the claims comes back unchanged;
 * 5. the same answer for the same input in any order of topics, members and claims.
 * So a member joining or leaving moves only what the two balances force: the new member's share
 * or the leaver's write partitions, plus the few (often none) that 2 and 3 together require
 * elsewhere. That can be more than none: with topics of 1, 2, 4 and 1 write partitions on five
 * members, one leaving with two forces a third move (cluster-assignment.test.ts has it).
 */

/** A member of the group and the write partitions it owns now. */
export interface MemberClaim {
  brokerId: number;
  owned: readonly WritePartitionRef[];
}

/**
 * Owner broker id per write partition (index = write partition), by topic.
 * Members are identified by `brokerId`: two claims with the same id count as one member owning
 * both claims' write partitions (the caller rejects duplicates before this). A topic listed twice
 * counts once, with the larger write partition count. Claims of unknown topics or write
 * partitions are ignored; a write partition claimed by several members counts as claimed by the
 * one `fallbackOwner` picks among them. With no members, every topic maps to `[]`.
 */
export function assignWritePartitions(
  topics: readonly TopicPartitions[],
  members: readonly MemberClaim[],
): Record<string, number[]> {
  const t = normalizedTopics(topics);
  const ids = [...new Set(members.map((m) => m.brokerId))].sort((a, b) => a - b);
  if (ids.length === 0) return Object.fromEntries(t.names.map((name) => [name, []]));
  const claimant = resolveClaims(t, ids, members);
  const extras = extrasFor(t, ids.length, claimant);
  return place(t, ids, claimant, extras);
}

/**
 * Owner of a write partition the assignment does not cover (a topic created after the last
 * rebalance): rendezvous (highest random weight) hashing, so every broker with the same member
 * list answers the same, owners spread evenly, and removing a broker moves only what it owned.
 */
export function fallbackOwner(topic: string, writePartition: number, brokerIds: readonly number[]): number {
  if (brokerIds.length === 0) throw new RangeError('fallbackOwner needs at least one broker id');
  const key = mix(stringHash(topic) ^ mix(writePartition + 0x9e3779b9));
  let best = brokerIds[0]!;
  let bestWeight = -1;
  for (const id of brokerIds) {
    const w = mix(key ^ mix(id));
    if (w > bestWeight || (w === bestWeight && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  return best;
}

/** Topics sorted by name, deduplicated; `start[i]` is where topic i's write partitions begin in flat arrays. */
interface Topics {
  names: string[];
  sizes: number[];
  start: number[];
  total: number;
}

function normalizedTopics(topics: readonly TopicPartitions[]): Topics {
  const sizeByName = new Map<string, number>();
  for (const { topic, writePartitions: w } of topics) {
    const size = Number.isSafeInteger(w) && w > 0 ? w : 0;
    sizeByName.set(topic, Math.max(size, sizeByName.get(topic) ?? 0));
  }
  const names = [...sizeByName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const sizes = names.map((n) => sizeByName.get(n)!);
  const start: number[] = [];
  let total = 0;
  for (const size of sizes) {
    start.push(total);
    total += size;
  }
  return { names, sizes, start, total };
}

/** The member index (into the sorted ids) that keeps each claimed write partition, -1 if unclaimed. */
function resolveClaims(t: Topics, ids: readonly number[], members: readonly MemberClaim[]): Int32Array {
  const topicIndex = new Map(t.names.map((name, i) => [name, i]));
  const memberIndex = new Map(ids.map((id, i) => [id, i]));
  const claimant = new Int32Array(t.total).fill(-1);
  const contested = new Map<number, Set<number>>();
  for (const { brokerId, owned } of members) {
    const m = memberIndex.get(brokerId)!;
    // Claims come grouped by topic: look a topic up once per run of it.
    let lastTopic: string | undefined;
    let ti: number | undefined;
    for (const { topic, writePartition: wp } of owned) {
      if (topic !== lastTopic) {
        lastTopic = topic;
        ti = topicIndex.get(topic);
      }
      if (ti === undefined || !Number.isInteger(wp) || wp < 0 || wp >= t.sizes[ti]!) continue;
      const at = t.start[ti]! + wp;
      const current = claimant[at]!;
      if (current === -1) claimant[at] = m;
      else if (current !== m) {
        const claimants = contested.get(at) ?? new Set([current]);
        contested.set(at, claimants.add(m));
      }
    }
  }
  for (const [at, claimants] of contested) {
    const ti = topicAt(t, at);
    const winner = fallbackOwner(
      t.names[ti]!,
      at - t.start[ti]!,
      [...claimants].map((m) => ids[m]!),
    );
    claimant[at] = memberIndex.get(winner)!;
  }
  return claimant;
}

function topicAt(t: Topics, at: number): number {
  let lo = 0;
  let hi = t.names.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t.start[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Which members get one of each topic's W mod M extra write partitions (see cluster-assignment-extras.ts). */
function extrasFor(t: Topics, m: number, claimant: Int32Array): Extras {
  const claimed = new Int32Array(t.names.length * m);
  t.sizes.forEach((size, ti) => {
    for (let at = t.start[ti]!; at < t.start[ti]! + size; at++) {
      const c = claimant[at]!;
      if (c >= 0) claimed[ti * m + c]!++;
    }
  });
  const wants = new Uint8Array(claimed.length);
  t.sizes.forEach((size, ti) => {
    const base = Math.floor(size / m);
    for (let at = ti * m; at < (ti + 1) * m; at++) wants[at] = claimed[at]! > base ? 1 : 0;
  });
  return chooseExtras(
    t.sizes.map((w) => w % m),
    m,
    wants,
  );
}

/** Each member keeps its claims up to its quota per topic; the rest fill the members below quota. */
function place(
  t: Topics,
  ids: readonly number[],
  claimant: Int32Array,
  extras: Extras,
): Record<string, number[]> {
  const m = ids.length;
  const owners: Record<string, number[]> = {};
  const kept = new Int32Array(m);
  const quota = new Int32Array(m);
  const keeper = new Int32Array(t.sizes.reduce((a, b) => Math.max(a, b), 0));
  t.names.forEach((name, ti) => {
    const size = t.sizes[ti]!;
    for (let i = 0; i < m; i++) quota[i] = Math.floor(size / m) + extras[ti * m + i]!;
    kept.fill(0);
    // Claimants keep their claims up to their quota, the lowest-numbered first.
    for (let wp = 0; wp < size; wp++) {
      const c = claimant[t.start[ti]! + wp]!;
      const keeps = c >= 0 && kept[c]! < quota[c]!;
      if (keeps) kept[c]!++;
      keeper[wp] = keeps ? c : -1;
    }
    const owner: number[] = [];
    let next = 0;
    for (let wp = 0; wp < size; wp++) {
      let c = keeper[wp]!;
      if (c === -1) {
        while (kept[next]! >= quota[next]!) next++;
        c = next;
        kept[c]!++;
      }
      owner.push(ids[c]!);
    }
    // A topic named __proto__ is a key like any other, not the object's prototype.
    if (name === '__proto__') Object.defineProperty(owners, name, { value: owner, enumerable: true });
    else owners[name] = owner;
  });
  return owners;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit affects every output bit. */
function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
