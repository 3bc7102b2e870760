import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { analyzeAudit } from './analyze.js';
import { AuditEmitter, type AuditSink, resolveAuditOptions } from './emitter.js';
import { type AuditEnvelope, parseEnvelope } from './record.js';

/** Keeps what it is sent; fails the sends numbered in `failing`. */
class MemorySink implements AuditSink {
  readonly sent: AuditEnvelope[] = [];
  sends = 0;
  closed = 0;
  constructor(private readonly failing: ReadonlySet<number> = new Set()) {}
  async send(_key: string, value: string): Promise<void> {
    if (this.failing.has(this.sends++)) throw new Error('audit topic unreachable');
    const e = parseEnvelope(Buffer.from(value));
    assert.ok(e, value);
    this.sent.push(e);
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const options = (o: { maxPendingRecords?: number } = {}) =>
  resolveAuditOptions({ flushIntervalMs: 10, ...o }, 'producer')!;
const log = createLogger({}, 'test');
const chunk = (first: number) =>
  ({
    kind: 'produced',
    at: 0,
    topic: 't',
    writePartition: 0,
    producerId: 1,
    first,
    last: first + 9,
    hash: '00000000',
  }) as const;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AuditEmitter', () => {
  it('sends records in the background, numbered, and a closing envelope', async () => {
    const sink = new MemorySink();
    const e = new AuditEmitter({ role: 'producer', clientId: 'p' }, sink, options(), log);
    e.record(chunk(0));
    e.record(chunk(10));
    assert.equal(sink.sends, 0, 'nothing is sent synchronously');
    await wait(50);
    assert.deepEqual(
      sink.sent.flatMap((s) => s.records.map((r) => r.n)),
      [0, 1],
    );
    await e.close();
    const last = sink.sent.at(-1)!;
    assert.deepEqual([last.closed, last.next, last.dropped, last.records.length], [true, 2, 0, 0]);
    assert.equal(sink.closed, 1);
  });

  it('a failed send and a full buffer drop records, counted, as gaps the report shows', async () => {
    const sink = new MemorySink(new Set([0]));
    const e = new AuditEmitter(
      { role: 'producer', clientId: 'p' },
      sink,
      options({ maxPendingRecords: 2 }),
      log,
    );
    e.record(chunk(0)); // 0: its send fails
    await wait(50);
    e.record(chunk(10)); // 1
    e.record(chunk(20)); // 2
    e.record(chunk(30)); // 3: the buffer holds 2, dropped
    await e.close();
    assert.equal(e.dropped, 2);
    assert.deepEqual(
      sink.sent.flatMap((s) => s.records.map((r) => r.n)),
      [1, 2],
    );
    assert.equal(sink.sent.at(-1)!.dropped, 2);
    const report = analyzeAudit(sink.sent, {
      topic: 't',
      group: 'g',
      since: 0,
      now: Date.now(),
      settleMs: 0,
    });
    assert.equal(report.coverage.complete, false);
    assert.deepEqual(report.coverage.gaps[0]!.missing, [
      { first: 0, last: 0 },
      { first: 3, last: 3 },
    ]);
    const later = analyzeAudit(sink.sent, {
      topic: 't',
      group: 'g',
      since: Date.now() + 1,
      now: Date.now(),
      settleMs: 0,
    });
    assert.deepEqual(
      later.coverage.gaps[0]!.missing,
      [{ first: 3, last: 3 }],
      'drops before the window do not count',
    );
  });
});
