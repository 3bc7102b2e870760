import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * Access control lists in Kafka's model (`docs/security.md`, "Authorization"): an entry allows or
 * denies one principal (or `*`, everyone) one operation on resources of one type, named
 * literally (`*` = every name) or by prefix. A deny beats any allow; super users are allowed
 * everything; with no matching allow the answer is deny. Pure: the broker loads the entries from
 * `ACLS_META_KEY` and asks `AclSet.authorize` before each request.
 */

export const aclOperations = ['create', 'describe', 'write', 'read', 'alter', 'delete', 'all'] as const;
/** What an ACL entry grants or denies; `all` covers every operation. */
export type AclOperation = (typeof aclOperations)[number];
/** What a request needs: one concrete operation. */
export type Operation = Exclude<AclOperation, 'all'>;

export const resourceTypes = ['topic', 'group', 'cluster'] as const;
export type ResourceType = (typeof resourceTypes)[number];
export const patternTypes = ['literal', 'prefixed'] as const;
export type PatternType = (typeof patternTypes)[number];
export type AclPermission = 'allow' | 'deny';

/** The resources an entry applies to. The cluster is one resource and has no name. */
export type AclResource =
  | { readonly type: 'cluster' }
  | { readonly type: 'topic' | 'group'; readonly name: string; readonly pattern: PatternType };

/** A resource a request acts on. */
export type Resource =
  | { readonly type: 'cluster' }
  | { readonly type: 'topic' | 'group'; readonly name: string };

export interface AclEntry {
  /** A user name (the authenticated principal's name), or `*` for every principal. */
  readonly principal: string;
  readonly resource: AclResource;
  readonly operation: AclOperation;
  readonly permission: AclPermission;
}

/** The stored form (`_meta/security/acls.json`). */
export interface AclDocument {
  readonly version: 1;
  readonly acls: readonly AclEntry[];
}

export const EMPTY_ACL_DOCUMENT: AclDocument = Object.freeze({ version: 1, acls: [] });

/** Any character but control characters; `*` alone means every principal. */
const principalSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\p{Cc}]+$/u, 'expected 1-256 characters without control characters');

const NAME_CHARS = { topic: /^[A-Za-z0-9._-]{1,200}$/, group: /^[A-Za-z0-9._\-:]{1,249}$/ } as const;

const namedResourceSchema = z
  .strictObject({
    type: z.enum(['topic', 'group']),
    name: z.string(),
    pattern: z.enum(patternTypes),
  })
  .superRefine((r, ctx) => {
    const problem = resourceNameProblem(r.type, r.name, r.pattern);
    if (problem) ctx.addIssue({ code: 'custom', path: ['name'], message: problem });
  });

const aclEntrySchema = z.strictObject({
  principal: principalSchema,
  resource: z.union([z.strictObject({ type: z.literal('cluster') }), namedResourceSchema]),
  operation: z.enum(aclOperations),
  permission: z.enum(['allow', 'deny']),
});

const aclDocumentSchema = z.strictObject({
  version: z.literal(1),
  acls: z.array(aclEntrySchema),
});

/** Why `name` cannot name `type` resources with `pattern`, or undefined when it can. */
export function resourceNameProblem(
  type: 'topic' | 'group',
  name: string,
  pattern: PatternType,
): string | undefined {
  if (pattern === 'literal' && name === '*') return undefined;
  if (NAME_CHARS[type].test(name)) return undefined;
  const chars = type === 'topic' ? 'A-Z a-z 0-9 . _ -' : 'A-Z a-z 0-9 . _ - :';
  const wildcard = pattern === 'literal' ? ' (or "*" for every name)' : '';
  return `${type} name ${JSON.stringify(name.slice(0, 300))} is invalid: expected characters of ${chars}${wildcard}`;
}

/** Validates one entry (a `ConfigError` naming the field when it is wrong). */
export function parseAclEntry(input: unknown): AclEntry {
  return parseWith(aclEntrySchema, input, 'ACL');
}

/** Validates a stored ACL document. */
export function parseAclDocument(input: unknown): AclDocument {
  return parseWith(aclDocumentSchema, input, 'ACL document');
}

function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid ${what}: ${issues.join('; ')}`, r.error.issues[0]?.path.join('.') ?? '');
}

/** `topic "logs"`, `topics prefixed "logs."`, `every group`, `the cluster`. */
export function describeAclResource(r: AclResource): string {
  if (r.type === 'cluster') return 'the cluster';
  if (r.pattern === 'prefixed') return `${r.type}s prefixed ${JSON.stringify(r.name)}`;
  return r.name === '*' ? `every ${r.type}` : `${r.type} ${JSON.stringify(r.name)}`;
}

/** `topic "logs"` or `cluster`: how refusals name what was asked for (a long name is cut). */
export function describeResource(r: Resource): string {
  if (r.type === 'cluster') return 'cluster';
  return `${r.type} ${JSON.stringify(r.name.length > 250 ? `${r.name.slice(0, 250)}…` : r.name)}`;
}

/** True when the two entries are the same rule (adding one twice keeps one). */
export function sameAcl(a: AclEntry, b: AclEntry): boolean {
  return (
    a.principal === b.principal &&
    a.operation === b.operation &&
    a.permission === b.permission &&
    sameAclResource(a.resource, b.resource)
  );
}

/** True when both name the same resources (type, name and pattern). */
export function sameAclResource(a: AclResource, b: AclResource): boolean {
  if (a.type === 'cluster' || b.type === 'cluster') return a.type === b.type;
  return a.type === b.type && a.name === b.name && a.pattern === b.pattern;
}

/** Whether the entry's resource pattern covers the resource. */
export function aclResourceMatches(pattern: AclResource, r: Resource): boolean {
  if (pattern.type !== r.type) return false;
  if (pattern.type === 'cluster' || r.type === 'cluster') return true;
  if (pattern.pattern === 'prefixed') return r.name.startsWith(pattern.name);
  return pattern.name === '*' || pattern.name === r.name;
}

/**
 * Operations whose allow grants `op`: the operation itself, `all`, and (as Kafka does) for
 * `describe` every operation that implies being able to see the resource.
 */
const ALLOWED_BY: Readonly<Record<Operation, ReadonlySet<AclOperation>>> = {
  describe: new Set(['describe', 'read', 'write', 'delete', 'alter', 'all']),
  create: new Set(['create', 'all']),
  write: new Set(['write', 'all']),
  read: new Set(['read', 'all']),
  alter: new Set(['alter', 'all']),
  delete: new Set(['delete', 'all']),
};

export type AclDecision =
  | { readonly allowed: true; readonly reason: 'super-user' | 'allowed'; readonly acl?: AclEntry }
  | { readonly allowed: false; readonly reason: 'denied' | 'no-acl'; readonly acl?: AclEntry };

/**
 * A set of entries indexed by principal, and the authorization decision. Creating a topic is
 * also granted (and denied) by `create` on the cluster, as in Kafka; a deny on either wins.
 */
export class AclSet {
  readonly #byPrincipal = new Map<string, AclEntry[]>();
  readonly #superUsers: ReadonlySet<string>;

  constructor(
    readonly entries: readonly AclEntry[],
    superUsers: Iterable<string> = [],
  ) {
    this.#superUsers = new Set(superUsers);
    for (const e of entries) {
      const list = this.#byPrincipal.get(e.principal);
      if (list) list.push(e);
      else this.#byPrincipal.set(e.principal, [e]);
    }
  }

  authorize(principal: string, operation: Operation, resource: Resource): AclDecision {
    if (this.#superUsers.has(principal)) return { allowed: true, reason: 'super-user' };
    const resources: Resource[] =
      operation === 'create' && resource.type === 'topic' ? [resource, { type: 'cluster' }] : [resource];
    const candidates = [...(this.#byPrincipal.get(principal) ?? []), ...(this.#byPrincipal.get('*') ?? [])];
    const applies = (e: AclEntry) => resources.some((r) => aclResourceMatches(e.resource, r));
    const deny = candidates.find(
      (e) => e.permission === 'deny' && (e.operation === operation || e.operation === 'all') && applies(e),
    );
    if (deny) return { allowed: false, reason: 'denied', acl: deny };
    const allow = candidates.find(
      (e) => e.permission === 'allow' && ALLOWED_BY[operation].has(e.operation) && applies(e),
    );
    return allow ? { allowed: true, reason: 'allowed', acl: allow } : { allowed: false, reason: 'no-acl' };
  }

  /**
   * Whether `principal` may do `operation` on at least one resource of `type` (Kafka's
   * authorizeByResourceType: an idempotent producer needs write on some topic). An allow counts
   * unless a deny covers every resource it names.
   */
  allowsSome(principal: string, operation: Operation, type: 'topic' | 'group'): boolean {
    if (this.#superUsers.has(principal)) return true;
    const candidates = [...(this.#byPrincipal.get(principal) ?? []), ...(this.#byPrincipal.get('*') ?? [])];
    const denies = candidates.filter(
      (e) =>
        e.permission === 'deny' &&
        (e.operation === operation || e.operation === 'all') &&
        e.resource.type === type,
    );
    return candidates.some(
      (e) =>
        e.permission === 'allow' &&
        ALLOWED_BY[operation].has(e.operation) &&
        e.resource.type === type &&
        !denies.some((d) => coversAll(d.resource, e.resource)),
    );
  }
}

/** Whether every resource `inner` names is also named by `outer` (same type). */
function coversAll(outer: AclResource, inner: AclResource): boolean {
  if (outer.type === 'cluster' || inner.type === 'cluster') return outer.type === inner.type;
  if (outer.pattern === 'literal')
    return outer.name === '*' || (inner.pattern === 'literal' && inner.name === outer.name);
  if (inner.pattern === 'literal' && inner.name === '*') return outer.name === '';
  return inner.name.startsWith(outer.name);
}
