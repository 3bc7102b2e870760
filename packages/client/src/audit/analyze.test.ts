import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditQuery, analyzeAudit } from './analyze.js';
import type { AuditEnvelope, AuditRecord } from './record.js';
import { hashHex, rangeHash } from './record.js';

const NOW = 1_000_000;
const q: AuditQuery = { topic: 't', group: 'g', since: NOW - 600_000, now: NOW, settleMs: 30_000 };
const OLD = NOW - 60_000;

/** Messages `v<seq>` of sequences first..last. */
const values = (first: number, last: number, tamper?: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    key: null,
    value: first + i === tamper ? 'tampered' : `v${first + i}`,
  }));

let n = 0;
const produced = (
  first: number,
  last: number,
  at = OLD,
  producerId = 7,
  writePartition = 0,
): AuditRecord => ({
  kind: 'produced',
  n: n++,
  at,
  topic: 't',
  writePartition,
  producerId,
  first,
  last,
  hash: hashHex(rangeHash(first, values(first, last))),
});
const consumed = (
  first: number,
  last: number,
  o: { group?: string; tamper?: number; producerId?: number; topic?: string } = {},
): AuditRecord => ({
  kind: 'consumed',
  n: n++,
  at: NOW,
  group: o.group ?? 'g',
  topic: o.topic ?? 't',
  writePartition: 0,
  producerId: o.producerId ?? 7,
  partition: 0,
  offset: 0,
  first,
  last,
  hash: hashHex(rangeHash(first, values(first, last, o.tamper))),
});
const envelope = (
  emitter: string,
  role: 'producer' | 'consumer',
  records: AuditRecord[],
  next = Math.max(-1, ...records.map((r) => r.n)) + 1,
): AuditEnvelope => ({
  v: 1,
  emitter,
  role,
  clientId: `${role}-client`,
  dropped: 0,
  drops: [],
  next,
  records,
});

describe('analyzeAudit', () => {
  it('all acked messages consumed once: nothing lost, coverage complete', () => {
    const p = envelope('P', 'producer', [produced(0, 9), produced(10, 19)]);
    const c = envelope('C', 'consumer', [consumed(0, 19)]);
    const r = analyzeAudit([p, c], q);
    assert.equal(r.streams.length, 1);
    const s = r.streams[0]!;
    assert.deepEqual([s.producerId, s.writePartition, s.produced, s.consumed], [7, 0, 20, 20]);
    assert.deepEqual(s.lost, []);
    assert.deepEqual(s.duplicated, []);
    assert.deepEqual(s.mismatched, []);
    assert.equal(s.unverifiedRanges, 0, 'a consumed range tiled by two chunks is verified');
    assert.deepEqual(r.totals, {
      produced: 20,
      consumed: 20,
      lost: 0,
      inFlight: 0,
      duplicated: 0,
      mismatched: 0,
      unaudited: 0,
    });
    assert.equal(r.coverage.complete, true);
    assert.deepEqual(r.emitters, { producers: 1, consumers: 1 });
  });

  it('an old chunk never consumed is lost, a recent one in flight, with their exact ranges', () => {
    const p = envelope('P', 'producer', [
      produced(0, 9),
      produced(10, 19),
      produced(20, 29),
      produced(30, 39, NOW - 1_000),
    ]);
    const c = envelope('C', 'consumer', [consumed(0, 9), consumed(20, 29)]);
    const s = analyzeAudit([p, c], q).streams[0]!;
    assert.deepEqual(s.lost, [{ first: 10, last: 19 }]);
    assert.deepEqual(s.inFlight, [{ first: 30, last: 39 }]);
    assert.equal(s.consumed, 20);
  });

  it('reports duplicates and content mismatches; other groups and topics do not count', () => {
    const p = envelope('P', 'producer', [produced(0, 9), produced(10, 19)]);
    const c = envelope('C', 'consumer', [
      consumed(0, 9),
      consumed(5, 9),
      consumed(10, 19, { tamper: 12 }),
      consumed(10, 19, { group: 'other' }),
      consumed(0, 19, { topic: 'u' }),
    ]);
    const r = analyzeAudit([p, c], q);
    const s = r.streams[0]!;
    assert.deepEqual(s.duplicated, [{ first: 5, last: 9 }]);
    assert.deepEqual(s.mismatched, [{ first: 10, last: 19 }]);
    assert.deepEqual(s.lost, []);
    assert.equal(s.unverifiedRanges, 1, 'the range 5-9 starts inside a chunk');
    assert.equal(r.totals.duplicated, 5);
  });

  it('consumed sequences with no produce record are unaudited, not lost; streams are apart', () => {
    const p = envelope('P', 'producer', [produced(10, 19), produced(0, 4, OLD, 8, 1)]);
    const c = envelope('C', 'consumer', [consumed(0, 19)]);
    const r = analyzeAudit([p, c], q);
    assert.deepEqual(
      r.streams.map((s) => [s.writePartition, s.producerId]),
      [
        [0, 7],
        [1, 8],
      ],
    );
    assert.deepEqual(r.streams[0]!.unaudited, [{ first: 0, last: 9 }]);
    assert.deepEqual(r.streams[0]!.lost, []);
    assert.deepEqual(r.streams[1]!.lost, [{ first: 0, last: 4 }]);
  });

  it('missing audit records make coverage incomplete; records before the window are not a gap', () => {
    n = 100;
    const a = produced(0, 9);
    n = 102; // record 101 was dropped
    const b = produced(10, 19);
    const p = envelope('P', 'producer', [a, b], 104); // and 103 never arrived
    const c = envelope('C', 'consumer', [consumed(0, 19)]);
    const r = analyzeAudit([p, c], q);
    assert.equal(r.coverage.complete, false);
    assert.deepEqual(r.coverage.gaps, [
      {
        emitter: 'P',
        role: 'producer',
        clientId: 'producer-client',
        missing: [
          { first: 101, last: 101 },
          { first: 103, last: 103 },
        ],
      },
    ]);
    const unrelated = envelope('X', 'producer', [{ ...produced(0, 1), topic: 'u' }], 1_000);
    assert.equal(
      analyzeAudit([p, c, unrelated], q).coverage.gaps.length,
      1,
      'emitters of other topics do not count',
    );
  });

  it('a consumer of the group that dropped every record in the window still makes coverage incomplete', () => {
    const p = envelope('P', 'producer', [produced(0, 9)]);
    const silent = (group: string, at: number): AuditEnvelope => ({
      ...envelope(`C-${group}`, 'consumer', [], 5),
      group,
      dropped: 5,
      drops: [{ first: 0, last: 4, at }],
    });
    const r = analyzeAudit([p, silent('g', NOW - 1_000)], q);
    assert.deepEqual(r.totals.lost, 10, 'looks lost ...');
    assert.equal(r.coverage.complete, false, '... but coverage says why it may not be');
    assert.deepEqual(r.coverage.gaps, [
      { emitter: 'C-g', role: 'consumer', clientId: 'consumer-client', missing: [{ first: 0, last: 4 }] },
    ]);
    assert.equal(analyzeAudit([p, silent('other', NOW - 1_000)], q).coverage.complete, true, 'another group');
    assert.equal(
      analyzeAudit([p, silent('g', q.since - 1)], q).coverage.complete,
      true,
      'dropped before the window',
    );
  });
});
