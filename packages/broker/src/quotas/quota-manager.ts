import type { QuotaConfig, SecurityConfig } from '@barge/core';
import type { BrokerMetrics } from '../metrics.js';
import { DEFAULT_RATE_WINDOW, RateWindow, type RateWindowOptions } from './rate.js';

/** The byte rates a principal's quota bounds: chunk bytes produced, ReadObject data bytes read. */
export type ByteRateKind = 'produce' | 'read';

const RATE_KEY = { produce: 'produceBytesPerSec', read: 'readBytesPerSec' } as const;

/** Bytes recorded before a request is served (`QuotaManager.charge`). */
export interface QuotaCharge {
  /** The throttle time the charge brought (0: under the quota, or no quota). */
  readonly throttleMs: number;
  /** Counts the bytes the request really carried instead of those charged (once). */
  settle(carried: number): void;
}

/** A principal's quota, and the config key it comes from (for messages). */
export interface PrincipalQuota {
  readonly limits: QuotaConfig;
  /** `security.quotas.principals["alice"]` or `security.quotas.default`, per key. */
  where(key: keyof QuotaConfig): string;
}

/**
 * Per-principal quotas of this broker (`security.quotas`): byte rates measured over a sliding
 * window (`RateWindow`) with the throttle time that brings them back under the quota, and open
 * connections. Rates and connections are counted per broker, as Kafka does: N brokers let a
 * principal through N times its quota. A principal's own entry wins key by key; keys it does
 * not set come from `default`; a key set nowhere is unlimited.
 */
export class QuotaManager {
  readonly #rates = { produce: new Map<string, RateWindow>(), read: new Map<string, RateWindow>() };
  /** Connections counted, by the principal they count for. */
  readonly #counted = new Map<object, string>();
  readonly #connections = new Map<string, number>();
  /** Quotas resolved per principal (the config does not change while the broker runs). */
  readonly #resolved = new Map<string, PrincipalQuota>();

  constructor(
    private readonly config: SecurityConfig['quotas'],
    private readonly metrics: BrokerMetrics,
    private readonly window: RateWindowOptions = DEFAULT_RATE_WINDOW,
    private readonly clock: () => number = Date.now,
  ) {}

  quotaOf(principal: string): PrincipalQuota {
    let quota = this.#resolved.get(principal);
    if (!quota) {
      quota = this.#resolve(principal);
      if (this.#resolved.size >= 10_000) this.#resolved.clear();
      this.#resolved.set(principal, quota);
    }
    return quota;
  }

  #resolve(principal: string): PrincipalQuota {
    const own = Object.hasOwn(this.config.principals, principal)
      ? this.config.principals[principal]
      : undefined;
    const limits = { ...this.config.default, ...definedKeys(own) };
    return {
      limits,
      where: (key) =>
        own?.[key] !== undefined
          ? `security.quotas.principals[${JSON.stringify(principal)}].${key}`
          : `security.quotas.default.${key}`,
    };
  }

  /**
   * Records `bytes` of `kind` for the principal and returns the throttle time (ms): how long its
   * connection should not be read for the principal's rate to come back under its quota. 0 when
   * the principal has no such quota or is under it.
   */
  record(principal: string, kind: ByteRateKind, bytes: number): number {
    const charge = this.charge(principal, kind, bytes);
    charge.settle(bytes);
    return charge.throttleMs;
  }

  /**
   * Records `bytes` of `kind` before the request is served (the most it can carry), so that
   * requests sent together are throttled as they are taken in, not after they were all served;
   * `settle` then counts the bytes it really carried (giving back the rest).
   */
  charge(principal: string, kind: ByteRateKind, bytes: number): QuotaCharge {
    const quota = this.quotaOf(principal).limits[RATE_KEY[kind]];
    if (quota === undefined) return { throttleMs: 0, settle: () => {} };
    const labels = { principal, kind };
    const now = this.clock();
    const rates = this.#rates[kind];
    let rate = rates.get(principal);
    if (!rate) {
      this.#forgetIdle(rates, now);
      rate = new RateWindow(this.window);
      rates.set(principal, rate);
    }
    const window = rate;
    window.record(bytes, now);
    const ms = window.throttleMs(quota, now);
    if (ms > 0) this.metrics.quotaThrottleMs.inc(labels, ms);
    let settled = false;
    const settle = (carried: number) => {
      if (settled) return;
      settled = true;
      const at = this.clock();
      if (carried < bytes) window.refund(bytes - carried, at);
      else if (carried > bytes) window.record(carried - bytes, at);
      this.metrics.quotaBytes.inc(labels, carried);
      this.metrics.quotaRate.set(labels, Math.round(window.rate(at)));
    };
    return { throttleMs: ms, settle };
  }

  /**
   * Counts an open connection for `principal` (once per connection); returns why it is refused
   * when that makes more than the principal's `connections` quota (it is then not counted).
   */
  admitConnection(conn: object, principal: string): string | undefined {
    if (this.#counted.has(conn)) return undefined;
    const quota = this.quotaOf(principal);
    const max = quota.limits.connections;
    const open = this.#connections.get(principal) ?? 0;
    if (max !== undefined && open >= max) {
      this.refused(principal, 'connections');
      return `principal ${JSON.stringify(principal)} has ${open} connections to this broker, its quota (${quota.where('connections')}: ${max})`;
    }
    this.#counted.set(conn, principal);
    this.#connections.set(principal, open + 1);
    return undefined;
  }

  /** Whether the connection was counted (a principal was admitted on it). */
  admitted(conn: object): boolean {
    return this.#counted.has(conn);
  }

  closed(conn: object): void {
    const principal = this.#counted.get(conn);
    if (principal === undefined) return;
    this.#counted.delete(conn);
    const left = (this.#connections.get(principal) ?? 1) - 1;
    if (left > 0) this.#connections.set(principal, left);
    else this.#connections.delete(principal);
  }

  /** Counts a request refused with QUOTA_EXCEEDED. */
  refused(principal: string, kind: 'connections' | 'topics'): void {
    this.metrics.quotaExceeded.inc({ principal, kind });
  }

  #forgetIdle(rates: Map<string, RateWindow>, now: number): void {
    if (rates.size < 1024) return;
    for (const [name, r] of rates) if (r.idle(now)) rates.delete(name);
  }
}

function definedKeys(q: QuotaConfig | undefined): Partial<QuotaConfig> {
  if (!q) return {};
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined));
}
