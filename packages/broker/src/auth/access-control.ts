import {
  type AclSet,
  type AnyRequest,
  describeResource,
  type Operation,
  type Principal,
  type Resource,
} from '@barge/core';
import type { Logger } from 'pino';
import type { BrokerMetrics } from '../metrics.js';
import { type AccessLookups, requiredAccess } from './required-access.js';

export interface AccessControlDeps extends AccessLookups {
  /** The ACLs and super users in force (re-read from storage every `security.refreshMs`). */
  acls(): AclSet;
  metrics: BrokerMetrics;
}

/**
 * The authorizer the router asks before a request runs (when authentication is on): what the
 * request needs (`requiredAccess`), checked against the ACLs. A refusal is counted
 * (`barge_authorization_denied_total`) and logged at info level with the principal's name.
 */
export class AccessControl {
  constructor(private readonly deps: AccessControlDeps) {}

  /** Why `principal` may not send `req` (the AUTHORIZATION_FAILED message), or undefined. */
  refusal(principal: Principal | undefined, req: AnyRequest, log: Logger): string | undefined {
    for (const { operation, resource } of requiredAccess(req, this.deps)) {
      if (this.may(principal, operation, resource)) continue;
      this.deps.metrics.authorizationDenied.inc({ operation, resource_type: resource.type });
      log.info(
        { principal: principal?.name, apiKey: req.apiKey, operation, resource: describeResource(resource) },
        'authorization denied',
      );
      return refusalMessage(principal, operation, resource);
    }
    return undefined;
  }

  /** Whether `principal` may do `operation` on `resource` (no logging: list filters use it). */
  may(principal: Principal | undefined, operation: Operation, resource: Resource): boolean {
    return principal !== undefined && this.deps.acls().authorize(principal.name, operation, resource).allowed;
  }

  /** Whether `principal` may do `operation` on at least one resource of `type` (`AclSet.allowsSome`). */
  maySome(principal: Principal | undefined, operation: Operation, type: 'topic' | 'group'): boolean {
    return principal !== undefined && this.deps.acls().allowsSome(principal.name, operation, type);
  }
}

/** `principal "alice" may not write topic "logs"`. */
function refusalMessage(principal: Principal | undefined, operation: Operation, resource: Resource): string {
  const who = principal ? `principal ${JSON.stringify(principal.name)}` : 'an unauthenticated connection';
  return `${who} may not ${operation} ${describeResource(resource)}`;
}
