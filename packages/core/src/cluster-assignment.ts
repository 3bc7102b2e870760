import type { TopicPartitions, WritePartitionRef } from './cluster.js';

/**
 * The cluster's assignor: which broker owns which write partition. Pure and deterministic, so
 * the group leader computes it and any broker can check it.
 *
 * `assignWritePartitions(topics, members)` with N write partitions in all and M members
 * (M > 0) guarantees, for every input:
 * - every write partition of every topic has exactly one owner, the broker id of a member;
 * - per topic (W write partitions): every member owns floor(W/M) or ceil(W/M) of them;
 * - overall: every member owns floor(N/M) or ceil(N/M) write partitions
 *   (both balances always hold together; neither is traded for stickiness);
 * - sticky: per topic, a member keeps every write partition it claims (`owned`) as long as it
 *   claims no more than its quota for that topic, and the lowest-numbered ones up to the quota
 *   otherwise; the assignor gives quotas' extra write partitions to the members that claim them
 *   first, so feeding a result back as the claims returns that same result;
 * - the same answer for the same input in any order of topics, members and claims.
 * The movement bounds when a member joins or leaves are checked by cluster-assignment.test.ts.
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
 * partitions are ignored; a write partition claimed by several members goes to the claimant
 * `fallbackOwner` picks among them. With no members, every topic maps to `[]`.
 */
export function assignWritePartitions(
  topics: readonly TopicPartitions[],
  members: readonly MemberClaim[],
): Record<string, number[]> {
  const t = normalizedTopics(topics);
  const ids = [...new Set(members.map((m) => m.brokerId))].sort((a, b) => a - b);
  if (ids.length === 0) return Object.fromEntries(t.names.map((name) => [name, []]));
  const claimant = resolveClaims(t, ids, members);
  const extras = chooseExtras(t, ids.length, claimant);
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
    for (const { topic, writePartition: wp } of owned) {
      const ti = topicIndex.get(topic);
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

/**
 * Which members own ceil(W/M) of each topic rather than floor(W/M) (`extras[topic * M + member]`).
 * Each topic has W mod M such extras; every member gets floor(E/M) or ceil(E/M) of all E extras,
 * which makes the overall counts balanced. Extras go first to members that claim more than the
 * floor of that topic, then to those with the most room; a final repair moves extras from members
 * over their share to members under it, choosing topics where that moves the fewest claims.
 */
function chooseExtras(t: Topics, m: number, claimant: Int32Array): Uint8Array {
  const topicCount = t.names.length;
  const claimed = new Int32Array(topicCount * m);
  for (let ti = 0; ti < topicCount; ti++) {
    for (let at = t.start[ti]!; at < t.start[ti]! + t.sizes[ti]!; at++) {
      const c = claimant[at]!;
      if (c >= 0) claimed[ti * m + c]!++;
    }
  }
  const base = t.sizes.map((w) => Math.floor(w / m));
  const spare = t.sizes.map((w) => w % m);
  const wantsExtra = (ti: number, member: number) => claimed[ti * m + member]! > base[ti]!;

  // Each member's share of the extras: the members wanting the most extras get the larger shares.
  const totalExtras = spare.reduce((a, b) => a + b, 0);
  const wanted = new Int32Array(m);
  for (let ti = 0; ti < topicCount; ti++)
    if (spare[ti]! > 0) for (let i = 0; i < m; i++) if (wantsExtra(ti, i)) wanted[i]!++;
  const share = new Int32Array(m).fill(Math.floor(totalExtras / m));
  const byWanted = [...Array(m).keys()].sort((a, b) => wanted[b]! - wanted[a]! || a - b);
  for (const i of byWanted.slice(0, totalExtras % m)) share[i]!++;

  const extras = new Uint8Array(topicCount * m);
  const count = new Int32Array(m);
  // Topics with the most extras first (easiest to fit while every member still has room).
  const order = [...Array(topicCount).keys()].sort((a, b) => spare[b]! - spare[a]! || a - b);
  const maxShare = Math.ceil(totalExtras / m);
  const groupSpan = (maxShare + topicCount + 1) * m;
  const keys = new Float64Array(m);
  for (const ti of order) {
    if (spare[ti] === 0) break;
    for (let i = 0; i < m; i++) {
      const room = share[i]! - count[i]!;
      const group = room <= 0 ? 2 : wantsExtra(ti, i) ? 0 : 1;
      keys[i] = group * groupSpan + (maxShare - room) * m + i;
    }
    keys.sort();
    for (let k = 0; k < spare[ti]!; k++) {
      const i = keys[k]! % m;
      extras[ti * m + i] = 1;
      count[i]!++;
    }
  }

  for (;;) {
    const over = count.findIndex((c, i) => c > share[i]!);
    if (over === -1) break;
    const under = count.findIndex((c, i) => c < share[i]!);
    let best = -1;
    let bestCost = 2;
    for (let ti = 0; ti < topicCount && bestCost > -1; ti++) {
      if (extras[ti * m + over] === 0 || extras[ti * m + under] === 1) continue;
      const cost = Number(wantsExtra(ti, over)) - Number(wantsExtra(ti, under));
      if (cost < bestCost) [best, bestCost] = [ti, cost];
    }
    // `over` has more extras than `under`, so some topic has one for `over` and none for `under`.
    extras[best * m + over] = 0;
    extras[best * m + under] = 1;
    count[over]!--;
    count[under]!++;
  }
  return extras;
}

/** Each member keeps its claims up to its quota per topic; the rest fill the members below quota. */
function place(
  t: Topics,
  ids: readonly number[],
  claimant: Int32Array,
  extras: Uint8Array,
): Record<string, number[]> {
  const m = ids.length;
  const owners: Record<string, number[]> = {};
  const kept = new Int32Array(m);
  t.names.forEach((name, ti) => {
    const size = t.sizes[ti]!;
    const start = t.start[ti]!;
    const quota = (i: number) => Math.floor(size / m) + extras[ti * m + i]!;
    kept.fill(0);
    const owner = new Array<number>(size).fill(-1);
    for (let wp = 0; wp < size; wp++) {
      const c = claimant[start + wp]!;
      if (c >= 0 && kept[c]! < quota(c)) {
        owner[wp] = ids[c]!;
        kept[c]!++;
      }
    }
    let next = 0;
    for (let wp = 0; wp < size; wp++) {
      if (owner[wp] !== -1) continue;
      while (kept[next]! >= quota(next)) next++;
      owner[wp] = ids[next]!;
      kept[next]!++;
    }
    owners[name] = owner;
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
