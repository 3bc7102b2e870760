import { atDepth, countOf, intersect, type SeqRange, subtract, union } from './ranges.js';
import type { AuditEnvelope, ConsumedRecord, ProducedRecord } from './record.js';
import { sumHashes } from './record.js';

export interface AuditQuery {
  readonly topic: string;
  readonly group: string;
  /** Start of the window (ms since the epoch): records dropped since then count as missing. */
  readonly since: number;
  /** ms since the epoch the report is made at. */
  readonly now: number;
  /** Acked sequences not consumed are lost once acked longer ago than this (else in flight). */
  readonly settleMs: number;
}

/** One stream: the sequences a producer wrote to one write partition. */
export interface StreamAudit {
  readonly writePartition: number;
  readonly producerId: number;
  /** Acked, as the producer recorded them. */
  readonly produced: number;
  /** Distinct acked sequences the group consumed. */
  readonly consumed: number;
  /** Acked longer than the settle time ago, never consumed. */
  readonly lost: readonly SeqRange[];
  /** Acked recently, not consumed yet. */
  readonly inFlight: readonly SeqRange[];
  /** Consumed more than once. */
  readonly duplicated: readonly SeqRange[];
  /** Consumed with other content than produced. */
  readonly mismatched: readonly SeqRange[];
  /** Consumed, with no produce record (acked before the window, or its record was dropped). */
  readonly unaudited: readonly SeqRange[];
  /** Consumed ranges whose hash could not be compared (they do not line up with produced chunks). */
  readonly unverifiedRanges: number;
}

/** An emitter whose records did not all arrive: some of what it saw is not in the report. */
export interface CoverageGap {
  readonly emitter: string;
  readonly role: 'producer' | 'consumer';
  readonly clientId: string;
  /** Record numbers that did not arrive (dropped by the emitter or lost on the way). */
  readonly missing: readonly SeqRange[];
}

export interface AuditReport {
  readonly topic: string;
  readonly group: string;
  readonly settleMs: number;
  readonly streams: readonly StreamAudit[];
  readonly totals: {
    readonly produced: number;
    readonly consumed: number;
    readonly lost: number;
    readonly inFlight: number;
    readonly duplicated: number;
    readonly mismatched: number;
    readonly unaudited: number;
  };
  /** Emitters seen that recorded this topic (and, consumers, this group). */
  readonly emitters: { readonly producers: number; readonly consumers: number };
  /** Complete when no emitter of the topic has missing records. */
  readonly coverage: { readonly complete: boolean; readonly gaps: readonly CoverageGap[] };
}

interface Stream {
  readonly produced: ProducedRecord[];
  readonly consumed: ConsumedRecord[];
}

/**
 * Compares what producers had acked with what the group consumed, per stream (write partition,
 * producer id), from the audit envelopes of a window (in any order).
 */
export function analyzeAudit(envelopes: readonly AuditEnvelope[], q: AuditQuery): AuditReport {
  const streams = new Map<string, Stream & { writePartition: number; producerId: number }>();
  const relevant = new Set<string>();
  for (const e of envelopes) {
    for (const r of e.records) {
      if (r.topic !== q.topic) continue;
      if (r.kind === 'consumed' && r.group !== q.group) continue;
      relevant.add(e.emitter);
      const key = `${r.writePartition}/${r.producerId}`;
      let s = streams.get(key);
      if (!s) {
        s = { writePartition: r.writePartition, producerId: r.producerId, produced: [], consumed: [] };
        streams.set(key, s);
      }
      if (r.kind === 'produced') s.produced.push(r);
      else s.consumed.push(r);
    }
  }
  const audits = [...streams.values()]
    .sort((a, b) => a.writePartition - b.writePartition || a.producerId - b.producerId)
    .map((s) => ({ writePartition: s.writePartition, producerId: s.producerId, ...auditStream(s, q) }));
  const sum = (f: (s: StreamAudit) => readonly SeqRange[]) => audits.reduce((n, s) => n + countOf(f(s)), 0);
  const gaps = coverageGaps(envelopes, relevant, q);
  const roles = new Map(envelopes.map((e) => [e.emitter, e.role]));
  const relevantRoles = [...relevant].map((id) => roles.get(id));
  return {
    topic: q.topic,
    group: q.group,
    settleMs: q.settleMs,
    streams: audits,
    totals: {
      produced: audits.reduce((n, s) => n + s.produced, 0),
      consumed: audits.reduce((n, s) => n + s.consumed, 0),
      lost: sum((s) => s.lost),
      inFlight: sum((s) => s.inFlight),
      duplicated: sum((s) => s.duplicated),
      mismatched: sum((s) => s.mismatched),
      unaudited: sum((s) => s.unaudited),
    },
    emitters: {
      producers: relevantRoles.filter((r) => r === 'producer').length,
      consumers: relevantRoles.filter((r) => r === 'consumer').length,
    },
    coverage: { complete: gaps.length === 0, gaps },
  };
}

function auditStream(s: Stream, q: AuditQuery): Omit<StreamAudit, 'writePartition' | 'producerId'> {
  const produced = union(s.produced);
  const consumedOnce = union(s.consumed);
  const missing = subtract(produced, consumedOnce);
  const settledBefore = q.now - q.settleMs;
  const recent = union(s.produced.filter((r) => r.at > settledBefore));
  // A sequence acked twice (never expected) counts as in flight if any of its acks is recent.
  const inFlight = intersect(missing, recent);
  const { mismatched, unverified } = compareHashes(s.produced, s.consumed);
  return {
    produced: countOf(produced),
    consumed: countOf(intersect(consumedOnce, produced)),
    lost: subtract(missing, inFlight),
    inFlight,
    duplicated: atDepth(s.consumed, 2),
    mismatched: union(mismatched),
    unaudited: subtract(consumedOnce, produced),
    unverifiedRanges: unverified,
  };
}

/**
 * Compares each consumed range with the produced chunks that tile it exactly (hashes add up
 * over ranges, see `rangeHash`). A consumed range that does not line up with chunk boundaries
 * (a resume in the middle of a chunk) is counted as unverified.
 */
function compareHashes(
  produced: readonly ProducedRecord[],
  consumed: readonly ConsumedRecord[],
): { mismatched: SeqRange[]; unverified: number } {
  const byFirst = new Map<number, ProducedRecord>();
  for (const p of produced) byFirst.set(p.first, p);
  const mismatched: SeqRange[] = [];
  let unverified = 0;
  for (const c of consumed) {
    const hashes: string[] = [];
    let at = c.first;
    while (at <= c.last) {
      const p = byFirst.get(at);
      if (!p || p.last > c.last) break;
      hashes.push(p.hash);
      at = p.last + 1;
    }
    if (at <= c.last) {
      // Sequences with no produce record are reported as unaudited; a partial chunk is unverified.
      if (produced.some((p) => p.first <= c.last && p.last >= c.first)) unverified++;
      continue;
    }
    if (sumHashes(hashes) !== c.hash) mismatched.push(c);
  }
  return { mismatched, unverified };
}

/**
 * Per emitter: record numbers missing between the first seen and the emitter's `next` (the
 * highest of its envelopes), and those it reports dropped since `since`. Numbers before the
 * first seen are outside the window. Emitters that wrote records about the topic count, and any
 * producer, or consumer of the group, that dropped records in the window (they may have been about it).
 */
function coverageGaps(
  envelopes: readonly AuditEnvelope[],
  relevant: ReadonlySet<string>,
  q: AuditQuery,
): CoverageGap[] {
  interface Seen {
    e: AuditEnvelope;
    numbers: SeqRange[];
    dropped: SeqRange[];
    next: number;
    first: number;
  }
  const byEmitter = new Map<string, Seen>();
  for (const e of envelopes) {
    let g = byEmitter.get(e.emitter);
    if (!g) {
      g = { e, numbers: [], dropped: [], next: 0, first: Number.POSITIVE_INFINITY };
      byEmitter.set(e.emitter, g);
    }
    for (const r of e.records) {
      g.numbers.push({ first: r.n, last: r.n });
      g.first = Math.min(g.first, r.n);
    }
    for (const d of e.drops) if (d.at >= q.since) g.dropped.push(d);
    g.next = Math.max(g.next, e.next);
  }
  const gaps: CoverageGap[] = [];
  for (const [emitter, g] of byEmitter) {
    const mayConcern = g.e.role === 'producer' || g.e.group === undefined || g.e.group === q.group;
    if (!relevant.has(emitter) && !(mayConcern && g.dropped.length > 0)) continue;
    const between = g.first === Number.POSITIVE_INFINITY ? [] : [{ first: g.first, last: g.next - 1 }];
    const missing = subtract(union([...between, ...g.dropped]), union(g.numbers));
    if (missing.length > 0) gaps.push({ emitter, role: g.e.role, clientId: g.e.clientId, missing });
  }
  return gaps;
}
