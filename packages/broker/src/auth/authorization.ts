import {
  ACLS_META_KEY,
  AclSet,
  type ObjectStorage,
  parseAclDocument,
  type SecurityConfig,
} from '@barge/core';
import type { Logger } from 'pino';
import type { HandlerTable } from '../handlers/types.js';
import type { BrokerMetrics } from '../metrics.js';
import { SecurityDoc } from '../security-doc.js';
import { AccessControl } from './access-control.js';
import type { MemberScope } from './required-access.js';
import { withVisibilityFilters } from './visibility.js';

export interface AuthorizationDeps {
  storage: ObjectStorage;
  metrics: BrokerMetrics;
  log: Logger;
  /** The group and topic of a consumer-group member served by this broker. */
  member(memberId: string): MemberScope;
}

/**
 * Authorization as the broker wires it: on when authentication is (`security.authentication`
 * non-empty), then every request is checked (`access`, asked by the router) and lists are
 * filtered (`visible`); off, every connection is ANONYMOUS and nothing is checked. The ACLs are
 * `_meta/security/acls.json` in the broker's storage, read at start and every
 * `security.refreshMs`, so every broker sharing the storage agrees within that time; without the
 * document only super users may do anything.
 */
export class Authorization {
  /** Undefined when authorization is off. */
  readonly access: AccessControl | undefined;
  readonly #acls: SecurityDoc<AclSet> | undefined;

  constructor(security: SecurityConfig, deps: AuthorizationDeps) {
    if (security.authentication.length === 0) return;
    const { superUsers } = security;
    const parse = (json: unknown) => new AclSet(parseAclDocument(json).acls, superUsers);
    const none = new AclSet([], superUsers);
    const acls = new SecurityDoc(deps.storage, ACLS_META_KEY, parse, none, security.refreshMs, deps.log);
    this.#acls = acls;
    this.access = new AccessControl({ acls: () => acls.current, member: deps.member, metrics: deps.metrics });
  }

  /** The handlers, with list results filtered to what the principal may describe when on. */
  visible(table: HandlerTable): HandlerTable {
    const access = this.access;
    return access ? withVisibilityFilters(table, (p, op, r) => access.may(p, op, r)) : table;
  }

  /** Reads the ACLs (throws when storage fails or they are invalid), then re-reads them periodically. */
  async start(): Promise<void> {
    await this.#acls?.start();
  }

  stop(): void {
    this.#acls?.stop();
  }
}
