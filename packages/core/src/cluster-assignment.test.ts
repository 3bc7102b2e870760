import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { TopicPartitions, WritePartitionRef } from './cluster.js';
import { assignWritePartitions, fallbackOwner, type MemberClaim } from './cluster-assignment.js';
import { fuzzRuns } from './test-support/fuzz.js';

type Owners = Record<string, number[]>;

/** Each member's claims: what it owns in `owners` (undefined = unowned). */
function claimsOf(
  ids: readonly number[],
  owners: Record<string, readonly (number | undefined)[]>,
): MemberClaim[] {
  return ids.map((brokerId) => ({
    brokerId,
    owned: Object.entries(owners).flatMap(([topic, list]) =>
      list.flatMap((owner, writePartition) => (owner === brokerId ? [{ topic, writePartition }] : [])),
    ),
  }));
}

/** Write partitions whose owner differs between `before` and `after` (one missing in `before` counts). */
function moves(before: Record<string, readonly (number | undefined)[]>, after: Owners): number {
  let n = 0;
  for (const [topic, list] of Object.entries(after))
    list.forEach((owner, wp) => {
      if (before[topic]?.[wp] !== owner) n++;
    });
  return n;
}

function owned(owners: Owners, id: number): number {
  return Object.values(owners).reduce((n, list) => n + list.filter((o) => o === id).length, 0);
}

function total(topics: readonly TopicPartitions[]): number {
  return topics.reduce((n, t) => n + t.writePartitions, 0);
}

/** Guarantees 1 to 3 of the module doc. */
function assertBalanced(topics: readonly TopicPartitions[], ids: readonly number[], owners: Owners): void {
  const m = ids.length;
  assert.deepEqual(Object.keys(owners).sort(), topics.map((t) => t.topic).sort());
  for (const { topic, writePartitions: w } of topics) {
    const list = owners[topic]!;
    assert.equal(list.length, w, `${topic} has one owner per write partition`);
    for (const o of list) assert.ok(ids.includes(o), `${topic} owner ${o} is a member`);
    for (const id of ids) {
      const n = list.filter((o) => o === id).length;
      assert.ok(
        n === Math.floor(w / m) || n === Math.ceil(w / m),
        `${topic}: member ${id} owns ${n} of ${w}`,
      );
    }
  }
  const n = total(topics);
  for (const id of ids) {
    const c = owned(owners, id);
    assert.ok(c === Math.floor(n / m) || c === Math.ceil(n / m), `member ${id} owns ${c} of ${n}`);
  }
}

/**
 * The fewest moves from `claims` of any assignment meeting both balances, by trying every choice
 * of which members own ceil(W/M) of each topic (small inputs only). A claimed write partition can
 * stay iff its claimant owns at most its quota of that topic.
 */
function fewestMoves(
  topics: readonly TopicPartitions[],
  ids: readonly number[],
  claims: Record<string, readonly (number | undefined)[]>,
): number {
  const m = ids.length;
  const n = total(topics);
  const subsets = (k: number): number[][] =>
    k === 0
      ? [[]]
      : ids.flatMap((_, i) =>
          subsets(k - 1)
            .filter((s) => s.every((j) => j > i))
            .map((s) => [i, ...s]),
        );
  let bestKept = -1;
  const visit = (ti: number, counts: number[], kept: number) => {
    if (ti === topics.length) {
      if (counts.every((c) => c === Math.floor(n / m) || c === Math.ceil(n / m)))
        bestKept = Math.max(bestKept, kept);
      return;
    }
    const { topic, writePartitions: w } = topics[ti]!;
    const claimed = ids.map((id) => (claims[topic] ?? []).filter((o) => o === id).length);
    for (const extra of subsets(w % m)) {
      const quota = ids.map((_, i) => Math.floor(w / m) + (extra.includes(i) ? 1 : 0));
      visit(
        ti + 1,
        counts.map((c, i) => c + quota[i]!),
        kept + quota.reduce((k, q, i) => k + Math.min(q, claimed[i]!), 0),
      );
    }
  };
  visit(
    0,
    ids.map(() => 0),
    0,
  );
  return n - bestKept;
}

/** Topics t0..tk with the given write partition counts. */
function topicsOf(sizes: readonly number[]): TopicPartitions[] {
  return sizes.map((writePartitions, i) => ({ topic: `t${i}`, writePartitions }));
}

/** Distinct broker ids, 1 to `max` of them. */
const idsArb = (max: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 1, maxLength: max });

/** Topics, members, and a claim (a member, or nobody) per write partition. */
const scenarioArb = (maxTopics: number, maxSize: number, maxMembers: number) =>
  fc
    .record({
      sizes: fc.array(fc.nat(maxSize), { minLength: 1, maxLength: maxTopics }),
      ids: idsArb(maxMembers),
      picks: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
    })
    .map(({ sizes, ids, picks }) => {
      const topics = topicsOf(sizes);
      let k = 0;
      const claims: Record<string, (number | undefined)[]> = {};
      for (const { topic, writePartitions } of topics)
        claims[topic] = Array.from(
          { length: writePartitions },
          () => ids[picks[k++ % picks.length]! % (ids.length + 1)],
        );
      return { topics, ids, claims };
    });

/** Deterministic shuffle (Fisher-Yates driven by a linear congruential generator). */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('assignWritePartitions', () => {
  it('no members: every topic maps to no owners; empty or invalid topics have none', () => {
    assert.deepEqual(assignWritePartitions(topicsOf([3, 0]), []), { t0: [], t1: [] });
    const odd = [
      { topic: 'zero', writePartitions: 0 },
      { topic: 'negative', writePartitions: -2 },
      { topic: 'nan', writePartitions: Number.NaN },
      { topic: 'fraction', writePartitions: 1.5 },
    ];
    assert.deepEqual(assignWritePartitions(odd, [{ brokerId: 1, owned: [] }]), {
      zero: [],
      negative: [],
      nan: [],
      fraction: [],
    });
  });

  it('a topic listed twice counts once with its larger size; a broker id listed twice is one member', () => {
    const owners = assignWritePartitions(
      [
        { topic: 'a', writePartitions: 2 },
        { topic: 'a', writePartitions: 4 },
      ],
      [
        { brokerId: 7, owned: [{ topic: 'a', writePartition: 0 }] },
        { brokerId: 9, owned: [] },
        { brokerId: 7, owned: [{ topic: 'a', writePartition: 3 }] },
      ],
    );
    assert.deepEqual(owners, { a: [7, 9, 9, 7] });
  });

  it('any topic name is a plain key (__proto__ too); very many topics are fine', () => {
    const odd = [
      { topic: '__proto__', writePartitions: 2 },
      { topic: 'constructor', writePartitions: 1 },
    ];
    const owners = assignWritePartitions(odd, [{ brokerId: 1, owned: [] }]);
    assert.deepEqual(Object.keys(owners).sort(), ['__proto__', 'constructor']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(owners, '__proto__')?.value, [1, 1]);
    // More topics than a function call takes arguments (no Math.max(...sizes)).
    const many = Array.from({ length: 150_000 }, (_, i) => ({ topic: `t${i}`, writePartitions: 1 }));
    const split = assignWritePartitions(many, [
      { brokerId: 1, owned: [] },
      { brokerId: 2, owned: [] },
    ]);
    assert.equal(Object.keys(split).length, 150_000);
    assert.equal(owned(split, 1), 75_000);
  });

  it('(a, b) both balances, every write partition owned once by a present member, whatever the claims', () => {
    fc.assert(
      fc.property(scenarioArb(8, 40, 9), ({ topics, ids, claims }) => {
        const members = claimsOf(ids, claims);
        // Claims of unknown topics, missing write partitions and absent brokers' leftovers.
        members[0]!.owned = [
          ...members[0]!.owned,
          { topic: 'nope', writePartition: 0 },
          { topic: 't0', writePartition: 10_000 },
          { topic: 't0', writePartition: -1 },
          { topic: 't0', writePartition: 0.5 },
        ];
        assertBalanced(topics, ids, assignWritePartitions(topics, members));
      }),
      fuzzRuns(400),
    );
  });

  it('(d) the same result for topics, members and claims in any order', () => {
    fc.assert(
      fc.property(scenarioArb(6, 30, 7), fc.nat(), ({ topics, ids, claims }, seed) => {
        const members = claimsOf(ids, claims);
        const reordered = shuffled(members, seed).map((m, i) => ({
          ...m,
          owned: shuffled(m.owned, seed + i),
        }));
        assert.deepEqual(
          assignWritePartitions(shuffled(topics, seed + 1), reordered),
          assignWritePartitions(topics, members),
        );
      }),
      fuzzRuns(300),
    );
  });

  it('sticky: moves the fewest write partitions any assignment meeting both balances can (exhaustive check)', () => {
    fc.assert(
      fc.property(scenarioArb(3, 11, 4), ({ topics, ids, claims }) => {
        const owners = assignWritePartitions(topics, claimsOf(ids, claims));
        assert.equal(moves(claims, owners), fewestMoves(topics, ids, claims));
      }),
      fuzzRuns(300),
    );
  });

  it('sticky: a result fed back as the claims comes back unchanged', () => {
    fc.assert(
      fc.property(scenarioArb(8, 40, 9), ({ topics, ids, claims }) => {
        const owners = assignWritePartitions(topics, claimsOf(ids, claims));
        assert.deepEqual(assignWritePartitions(topics, claimsOf(ids, owners)), owners);
      }),
      fuzzRuns(300),
    );
  });

  it('a member within its quota keeps all it claims; the rest is spread', () => {
    // 6 write partitions on 3 members: quota 2 each. Broker 1 claims 2, broker 2 claims 3.
    const owners = assignWritePartitions(topicsOf([6]), [
      { brokerId: 1, owned: [0, 5].map((writePartition) => ({ topic: 't0', writePartition })) },
      { brokerId: 2, owned: [1, 2, 3].map((writePartition) => ({ topic: 't0', writePartition })) },
      { brokerId: 3, owned: [] },
    ]);
    assert.deepEqual(owners, { t0: [1, 2, 2, 3, 3, 1] });
  });

  it('a write partition claimed twice goes to the claimant fallbackOwner picks among them', () => {
    for (let wp = 0; wp < 20; wp++) {
      const ref: WritePartitionRef = { topic: 'orders', writePartition: wp };
      const owners = assignWritePartitions(
        [{ topic: 'orders', writePartitions: 20 }],
        [
          { brokerId: 4, owned: [ref] },
          { brokerId: 11, owned: [ref] },
        ],
      );
      assert.equal(owners.orders![wp], fallbackOwner('orders', wp, [11, 4]), `write partition ${wp}`);
    }
  });

  describe('(c) a member joining or leaving a balanced assignment', () => {
    /** A balanced assignment to start from: the assignor's own answer to random claims. */
    const balancedArb = (maxTopics: number, maxSize: number, maxMembers: number) =>
      scenarioArb(maxTopics, maxSize, maxMembers).map(({ topics, ids, claims }) => ({
        topics,
        ids,
        start: assignWritePartitions(topics, claimsOf(ids, claims)),
      }));
    const newcomer = (ids: readonly number[]) => Math.max(...ids) + 1;

    it('one topic: a join moves exactly the new member share (at most ceil(N/(M+1))), a leave exactly what the leaver had', () => {
      fc.assert(
        fc.property(balancedArb(1, 200, 12), fc.nat(), ({ topics, ids, start }, pick) => {
          const n = total(topics);
          const joiner = newcomer(ids);
          const joined = assignWritePartitions(topics, claimsOf([...ids, joiner], start));
          assert.equal(moves(start, joined), owned(joined, joiner));
          assert.ok(owned(joined, joiner) <= Math.ceil(n / (ids.length + 1)));
          if (ids.length < 2) return;
          const leaver = ids[pick % ids.length]!;
          const rest = ids.filter((id) => id !== leaver);
          assert.equal(
            moves(start, assignWritePartitions(topics, claimsOf(rest, start))),
            owned(start, leaver),
          );
        }),
        fuzzRuns(300),
      );
    });

    it('several topics: a join or a leave moves no more than both balances force (exhaustive check)', () => {
      fc.assert(
        fc.property(balancedArb(3, 11, 4), fc.nat(), ({ topics, ids, start }, pick) => {
          const joined = [...ids, newcomer(ids)];
          const afterJoin = assignWritePartitions(topics, claimsOf(joined, start));
          assert.equal(moves(start, afterJoin), fewestMoves(topics, joined, start));
          // What the balances force on a join, seen in every case tried: one move beyond the share.
          assert.ok(moves(start, afterJoin) <= Math.ceil(total(topics) / joined.length) + 1);
          if (ids.length < 2) return;
          const rest = ids.filter((id) => id !== ids[pick % ids.length]);
          const afterLeave = assignWritePartitions(topics, claimsOf(rest, start));
          assert.equal(moves(start, afterLeave), fewestMoves(topics, rest, start));
        }),
        fuzzRuns(300),
      );
    });

    it('a leave can force one move besides the leaver: per-topic and overall balance together', () => {
      const topics = topicsOf([1, 2, 4, 1]);
      const start = { t0: [1], t1: [2, 4], t2: [2, 5, 4, 3], t3: [1] };
      const ids = [1, 2, 3, 4, 5];
      assertBalanced(topics, ids, start);
      const rest = [1, 2, 3, 5];
      const after = assignWritePartitions(topics, claimsOf(rest, start));
      assertBalanced(topics, rest, after);
      // Broker 4 had t1/1 and t2/2. Broker 1 is the only one without t2, so it takes t2/2 and,
      // with 8 write partitions on 4 members (2 each), must give t0 or t3 away.
      assert.equal(owned(start, 4), 2);
      assert.equal(fewestMoves(topics, rest, start), 3);
      assert.equal(moves(start, after), 3);
    });

    it('200 topics x 16 write partitions on 50 members: a join moves only the new member share', () => {
      const topics = Array.from({ length: 200 }, (_, i) => ({ topic: `topic-${i}`, writePartitions: 16 }));
      const ids = Array.from({ length: 50 }, (_, i) => i + 1);
      const start = assignWritePartitions(topics, claimsOf(ids, {}));
      assertBalanced(topics, ids, start);
      const joined = assignWritePartitions(topics, claimsOf([...ids, 51], start));
      assertBalanced(topics, [...ids, 51], joined);
      assert.equal(moves(start, joined), owned(joined, 51));
      assert.ok(owned(joined, 51) <= Math.ceil(3200 / 51));
      const rest = ids.filter((id) => id !== 7);
      const left = assignWritePartitions(topics, claimsOf(rest, start));
      assertBalanced(topics, rest, left);
      // 64 were broker 7's; each other member must gain at least one of them, and one cannot
      // without giving another away.
      assert.equal(owned(start, 7), 64);
      assert.equal(moves(start, left), 65);
    });
  });
});

describe('fallbackOwner', () => {
  const brokers = [3, 17, 42, 1000, 7, 65_535, 0xfffffffe, 12, 99, 5];

  it('one of the brokers, the same for any order of them', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(1023), idsArb(12), fc.nat(), (topic, wp, ids, seed) => {
        const owner = fallbackOwner(topic, wp, ids);
        assert.ok(ids.includes(owner));
        assert.equal(fallbackOwner(topic, wp, shuffled(ids, seed)), owner);
      }),
      fuzzRuns(500),
    );
  });

  it('spreads write partitions evenly over the brokers', () => {
    const counts = new Map<number, number>();
    for (let t = 0; t < 200; t++)
      for (let wp = 0; wp < 100; wp++) {
        const o = fallbackOwner(`topic-${t}`, wp, brokers);
        counts.set(o, (counts.get(o) ?? 0) + 1);
      }
    // 20,000 write partitions on 10 brokers: 2,000 each expected, sd about 42.
    for (const id of brokers)
      assert.ok(Math.abs((counts.get(id) ?? 0) - 2000) < 200, `${id}: ${counts.get(id)}`);
  });

  it('removing a broker moves only its write partitions; adding one moves write partitions only to it', () => {
    const fewer = brokers.filter((id) => id !== 42);
    for (let t = 0; t < 50; t++)
      for (let wp = 0; wp < 64; wp++) {
        const topic = `orders-${t}`;
        const before = fallbackOwner(topic, wp, brokers);
        const after = fallbackOwner(topic, wp, fewer);
        if (before !== 42) assert.equal(after, before);
        const grown = fallbackOwner(topic, wp, [...brokers, 8]);
        assert.ok(grown === before || grown === 8);
      }
  });

  it('needs at least one broker', () => {
    assert.throws(() => fallbackOwner('t', 0, []), RangeError);
  });
});
