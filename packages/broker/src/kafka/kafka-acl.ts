import { describeResource, type Operation, type Principal, type Resource } from '@barge/core';
import type { AccessControl } from '../auth/access-control.js';
import type { BrokerMetrics } from '../metrics.js';
import type { KafkaApi, KafkaRequestContext } from './kafka-api.js';

/**
 * What an ACL rule makes of a request: run it (`req`, possibly with refused topics or groups
 * taken out, and `merge` to add their errors to the answer), answer it without running it, or
 * close the connection (Produce with acks=0, which has no answer to carry the error).
 */
export type Guarded<Req, Res> =
  | { readonly req: Req; readonly merge?: (res: Res) => Res }
  | { readonly answer: Res }
  | { readonly close: string };

/** The ACL rule of one Kafka API (`kafka-acl-rules.ts`). */
export type AclRule<Req, Res> = (req: Req, check: KafkaCheck, ctx: KafkaRequestContext) => Guarded<Req, Res>;

/**
 * The ACL questions of one request, for its connection's principal. `may` is a decision that
 * refuses (a denial is counted in `barge_authorization_denied_total` and logged at info, as on
 * the Barge listener); `sees` filters a list and is neither counted nor logged.
 */
export class KafkaCheck {
  constructor(
    private readonly access: AccessControl,
    private readonly metrics: BrokerMetrics,
    private readonly ctx: KafkaRequestContext,
    private readonly apiName: string,
  ) {}

  get principal(): Principal | undefined {
    return this.ctx.conn.principal;
  }

  may(operation: Operation, resource: Resource): boolean {
    if (this.access.may(this.principal, operation, resource)) return true;
    this.denied(operation, resource);
    return false;
  }

  sees(operation: Operation, resource: Resource): boolean {
    return this.access.may(this.principal, operation, resource);
  }

  /** Whether the principal may do `operation` on at least one resource of `type`. */
  maySome(operation: Operation, type: 'topic' | 'group'): boolean {
    return this.access.maySome(this.principal, operation, type);
  }

  /** Counts and logs a refusal decided by the rule itself. */
  denied(operation: Operation, resource: Resource): void {
    this.metrics.authorizationDenied.inc({ operation, resource_type: resource.type });
    this.ctx.conn.log.info(
      {
        principal: this.principal?.name,
        api: this.apiName,
        operation,
        resource: describeResource(resource),
      },
      'authorization denied',
    );
  }

  /** `principal "alice" may not write topic "logs"` (the errorMessage of refusals that carry one). */
  refusal(operation: Operation, resource: Resource): string {
    const who = this.principal ? `principal ${JSON.stringify(this.principal.name)}` : 'this connection';
    return `${who} may not ${operation} ${describeResource(resource)}`;
  }
}

export const topicResource = (name: string): Resource => ({ type: 'topic', name });
export const groupResource = (name: string): Resource => ({ type: 'group', name });
export const CLUSTER: Resource = { type: 'cluster' };

/** `rule` with the request and response types of its API (the table holds them untyped). */
export function aclRule<Req, Res>(rule: AclRule<Req, Res>): AclRule<unknown, unknown> {
  return rule as unknown as AclRule<unknown, unknown>;
}

/**
 * `api` with its ACL rule applied before it runs (authentication on). An API without a rule is
 * served only to principals allowed `alter` on the cluster (super users): a new API is closed to
 * everyone else until its rule is written.
 */
export function guardApi(
  api: KafkaApi,
  rule: AclRule<unknown, unknown> | undefined,
  access: AccessControl,
  metrics: BrokerMetrics,
): KafkaApi {
  const effective: AclRule<unknown, unknown> =
    rule ??
    ((req, check) =>
      check.may('alter', CLUSTER) ? { req } : { close: `${api.name} has no ACL rule on the Kafka listener` });
  return {
    ...api,
    handle: (req, ctx) => {
      const guarded = effective(req, new KafkaCheck(access, metrics, ctx, api.name), ctx);
      if ('answer' in guarded) return guarded.answer;
      if ('close' in guarded) {
        ctx.conn.fail(guarded.close);
        return undefined;
      }
      const res = api.handle(guarded.req, ctx);
      const merge = guarded.merge;
      if (!merge) return res;
      const merged = (r: unknown) => (r === undefined ? r : merge(r));
      return res instanceof Promise ? res.then(merged) : merged(res);
    },
  };
}

/** Splits `items` into those `allowed` and the rest, keeping their order. */
export function partition<T>(items: readonly T[], allowed: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (allowed(item) ? yes : no).push(item);
  return [yes, no];
}
