import { randomUUID } from 'node:crypto';
import { ConfigError, errorMessage, validateTopicName } from '@barge/core';
import type { Logger } from '../logger.js';
import {
  type AuditEnvelope,
  type AuditRecord,
  type ConsumedRecord,
  DEFAULT_AUDIT_TOPIC,
  type DroppedRecords,
  type ProducedRecord,
} from './record.js';

/** The `audit` option of `Producer` and `Consumer`: emit audit records to a topic (`barge audit` reads them). */
export interface AuditOptions {
  /** The audit topic; created with the broker's defaults when missing. Default `__barge_audit`. */
  topic?: string;
  /** Records are sent at least this often. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Records held while the audit topic is slow or unreachable; more are dropped (and counted). Default 10,000. */
  maxPendingRecords?: number;
}

export interface ResolvedAuditOptions {
  readonly topic: string;
  readonly flushIntervalMs: number;
  readonly maxPendingRecords: number;
}

/** Records per envelope (one audit message). */
const RECORDS_PER_ENVELOPE = 500;
/** Envelopes being sent at a time. */
const MAX_SENDING = 4;
/** Runs of dropped record numbers each envelope lists (the latest). */
const MAX_DROP_RUNS = 32;
/** `close` waits this long at most for the last records to be sent. */
const CLOSE_TIMEOUT_MS = 15_000;

/** Checks the `audit` option of a `who` (producer, consumer); undefined when auditing is off. */
export function resolveAuditOptions(
  o: AuditOptions | undefined,
  who: string,
): ResolvedAuditOptions | undefined {
  if (o === undefined) return undefined;
  if (typeof o !== 'object' || o === null)
    throw new ConfigError(
      `${who} audit must be an object { topic?, flushIntervalMs?, maxPendingRecords? }`,
      'audit',
    );
  const topic = o.topic ?? DEFAULT_AUDIT_TOPIC;
  validateTopicName(topic);
  const int = (name: keyof AuditOptions, v: number | undefined, def: number) => {
    if (v === undefined) return def;
    if (!Number.isSafeInteger(v) || v < 1)
      throw new ConfigError(`${who} audit.${name} must be an integer >= 1, got ${v}`, `audit.${name}`);
    return v;
  };
  return {
    topic,
    flushIntervalMs: int('flushIntervalMs', o.flushIntervalMs, 1_000),
    maxPendingRecords: int('maxPendingRecords', o.maxPendingRecords, 10_000),
  };
}

/** Where envelopes go: a topic, through a producer of their own. */
export interface AuditSink {
  send(key: string, value: string): Promise<void>;
  /** Releases connections; a later `send` opens them again. */
  close(): Promise<void>;
}

/** A record before the emitter numbers it. */
export type NewRecord = Omit<ProducedRecord, 'n'> | Omit<ConsumedRecord, 'n'>;

/**
 * Collects a client's audit records and sends them in the background, in envelopes: at every
 * `flushIntervalMs` and whenever an envelope's worth is pending. Never blocks nor fails the
 * client: when `maxPendingRecords` are waiting, new records are dropped, and records whose send
 * failed are lost; both are counted in `dropped` and leave gaps in the record numbers, so a
 * report can tell incomplete audit coverage from data loss.
 */
export class AuditEmitter {
  readonly id = randomUUID();
  #next = 0;
  #dropped = 0;
  readonly #drops: DroppedRecords[] = [];
  #pending: AuditRecord[] = [];
  #sending = 0;
  #timer: NodeJS.Timeout | undefined;
  #warned = false;
  readonly #sent = new Set<Promise<void>>();

  constructor(
    private readonly identity: { role: 'producer' | 'consumer'; clientId: string; group?: string },
    private readonly sink: AuditSink,
    private readonly options: ResolvedAuditOptions,
    private readonly log: Logger,
    /** Called before each timed flush (the consumer closes its open ranges there). */
    private readonly beforeFlush?: () => void,
  ) {}

  /** Records made so far that were not sent. */
  get dropped(): number {
    return this.#dropped;
  }

  record(r: NewRecord): void {
    const n = this.#next++;
    if (this.#pending.length >= this.options.maxPendingRecords) {
      this.#lost([n], `the audit buffer is full (${this.options.maxPendingRecords} records)`);
      return;
    }
    this.#pending.push({ ...r, n } as AuditRecord);
    this.flushSoon();
    if (this.#pending.length >= RECORDS_PER_ENVELOPE) this.#flush(false);
  }

  /** Flushes within `flushIntervalMs` (calling `beforeFlush` first), if no flush is scheduled yet. */
  flushSoon(): void {
    this.#timer ??= setTimeout(() => this.#tick(), this.options.flushIntervalMs).unref();
  }

  /** Sends every pending record and a closing envelope, then releases the sink. At most 15 s. */
  async close(): Promise<void> {
    this.beforeFlush?.();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const done = (async () => {
      this.#flush(true);
      this.#send(this.#envelope([], true));
      while (this.#sent.size > 0) await Promise.all([...this.#sent]);
      await this.sink.close();
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    await Promise.race([done, late]);
    clearTimeout(timer);
  }

  #tick(): void {
    this.beforeFlush?.(); // its records find this tick still scheduled: no new timer
    this.#timer = undefined;
    this.#flush(false);
    if (this.#pending.length > 0) this.flushSoon();
  }

  /** Sends pending records, one envelope each `RECORDS_PER_ENVELOPE`, within `MAX_SENDING` unless `all`. */
  #flush(all: boolean): void {
    while (this.#pending.length > 0 && (all || this.#sending < MAX_SENDING)) {
      this.#send(this.#envelope(this.#pending.splice(0, RECORDS_PER_ENVELOPE)));
    }
  }

  #envelope(records: AuditRecord[], closed = false): AuditEnvelope {
    const { role, clientId, group } = this.identity;
    return {
      v: 1,
      emitter: this.id,
      role,
      clientId,
      ...(group === undefined ? {} : { group }),
      dropped: this.#dropped,
      drops: [...this.#drops],
      next: this.#next,
      ...(closed ? { closed: true as const } : {}),
      records,
    };
  }

  #send(envelope: AuditEnvelope): void {
    this.#sending++;
    const p = this.sink
      .send(this.id, JSON.stringify(envelope))
      .catch((e: unknown) =>
        this.#lost(
          envelope.records.map((r) => r.n),
          `sending to the audit topic failed: ${errorMessage(e)}`,
        ),
      )
      .finally(() => {
        this.#sending--;
        this.#sent.delete(p);
        if (this.#pending.length >= RECORDS_PER_ENVELOPE) this.#flush(false);
      });
    this.#sent.add(p);
  }

  #lost(numbers: readonly number[], why: string): void {
    const at = Date.now();
    this.#dropped += numbers.length;
    for (const n of numbers) {
      const run = this.#drops.at(-1);
      if (run && run.last === n - 1) this.#drops[this.#drops.length - 1] = { ...run, last: n };
      else this.#drops.push({ first: n, last: n, at });
    }
    this.#drops.splice(0, Math.max(0, this.#drops.length - MAX_DROP_RUNS));
    if (this.#warned) return;
    this.#warned = true; // once: the report shows every gap
    this.log.warn(`audit records dropped: ${why}; \`barge audit\` will report incomplete coverage`, {
      topic: this.options.topic,
    });
  }
}
