import {
  type BatchPointer,
  type BrokerConfig,
  type ClusterAssignment,
  type ClusterCoordination,
  type ClusterMember,
  type ClusterMembership,
  type ClusterMetadata,
  errorMessage,
  type FencedPublisher,
  fallbackOwner,
  hasErrorCode,
  NO_OWNER,
  NotOwnerError,
  type PublishedPointer,
  type TopicConfig,
  TransientError,
  type WritePartitionRef,
} from '@barge/core';
import type { Logger } from 'pino';
import { raceTimeout } from '../race-timeout.js';
import { retryStartupStep, type StartupRetryPolicy } from '../startup-retry.js';
import type { OwnerCheck, WriteOwnership } from './write-ownership.js';

type ClusterSettings = NonNullable<BrokerConfig['cluster']>;

/** What the node needs of the rest of the broker. */
export interface ClusterNodeDeps {
  settings: ClusterSettings;
  self: () => ClusterMember;
  coordination: ClusterCoordination;
  /** Topics known here, and a fresh listing from storage (the leader assigns every topic). */
  knownTopics(): TopicConfig[];
  listTopics(): Promise<TopicConfig[]>;
  /** Closes the write partition's open batch and resolves once nothing of it is in flight. */
  drain(topic: string, writePartition: number): Promise<void>;
  /**
   * Ends the write partition's ownership period here: forgets its sequence lease, so a later
   * period leases anew (above every other owner's), and its next dense offset, so a later
   * period reads it from the tail once fenced in.
   */
  forgetSequences(topic: string, writePartition: number): void;
  /** Sequences below this were taken in an earlier ownership period (`forgetSequences`). */
  staleSequencesBelow(topic: string, writePartition: number): number;
  log: Logger;
}

/** A write partition's fenced publisher: opening (maybe after the previous owner's drain time), or open. */
interface PublisherSlot {
  ready: Promise<FencedPublisher>;
}

const key = (topic: string, writePartition: number) => `${topic}\u0000${writePartition}`;

/**
 * This broker as a member of a cluster: joins the cluster group, follows its assignment of
 * write partitions, and publishes pointers only through the fenced publisher of write
 * partitions it owns.
 *
 * Handing a write partition over: the old owner stops taking produce requests for it at once
 * (NOT_OWNER naming the new owner), closes and publishes its open batches for up to
 * `cluster.drainTimeoutMs`, then closes its publisher. The new owner takes produce requests at
 * once but opens its publisher, which fences the old one, only after `drainTimeoutMs` when the
 * old owner is still a member (at once when it left or died). Whatever the old owner had not
 * committed by then fails with NOT_OWNER and is resent by its producers. Safety never rests on
 * timing: the fence (the transactional id's epoch) makes sure only the newest publisher commits.
 *
 * A publisher that failed is reopened only after the group confirmed (a heartbeat answered)
 * that this broker is still in the generation whose assignment gives it the write partition:
 * a broker paused past its session would otherwise fence the rightful owner on waking.
 */
export class ClusterNode implements WriteOwnership {
  #membership: ClusterMembership | undefined;
  #assignment: ClusterAssignment | undefined;
  #memberIds: number[] = [];
  readonly #publishers = new Map<string, PublisherSlot>();
  /** When the publisher of a write partition last failed; it reopens only once confirmed after that. */
  readonly #failedAt = new Map<string, number>();
  /** Write partitions handed over and being drained here: the new owner. */
  readonly #draining = new Map<string, number>();
  /** Write partitions this broker owns in the current assignment (incl. topics the leader did not know). */
  #mine = new Set<string>();
  #firstAssignment: () => void = () => {};
  readonly #assigned = new Promise<void>((resolve) => {
    this.#firstAssignment = resolve;
  });
  #stopped = false;

  constructor(private readonly deps: ClusterNodeDeps) {}

  get clusterId(): string {
    return this.deps.settings.id;
  }

  get assignment(): ClusterAssignment | undefined {
    return this.#assignment;
  }

  /** Joins the cluster group; resolves once joined (the first assignment may come later: `whenAssigned`). */
  async start(): Promise<void> {
    const { settings, coordination, log } = this.deps;
    this.#membership = await coordination.join({
      clusterId: settings.id,
      self: this.deps.self(),
      sessionTimeoutMs: settings.sessionTimeoutMs,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      rebalanceTimeoutMs: settings.rebalanceTimeoutMs,
      topics: async () =>
        (await this.deps.listTopics()).map((t) => ({ topic: t.name, writePartitions: t.writePartitions })),
      owned: () => this.#owned(),
      onAssignment: (a) => this.#assign(a),
      onMembershipLost: (reason) =>
        log.error({ cluster: settings.id, reason }, 'cluster membership lost; rejoining'),
      log: (level, message, fields) => log[level]({ cluster: settings.id, ...fields }, message),
    });
  }

  /** Joins (retried like the other start-up steps) and waits up to a rebalance and a session for the first assignment. */
  async join(retry: StartupRetryPolicy, queue: string): Promise<void> {
    await retryStartupStep(`join cluster ${this.clusterId} on ${queue}`, () => this.start(), retry);
    const { rebalanceTimeoutMs, sessionTimeoutMs } = this.deps.settings;
    if (!(await this.whenAssigned(rebalanceTimeoutMs + sessionTimeoutMs))) {
      this.deps.log.warn(
        { cluster: this.clusterId },
        'no cluster assignment yet; produce requests are answered NOT_OWNER until it comes',
      );
    }
  }

  /** Resolves with the first assignment, or after `ms`. */
  async whenAssigned(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.#assigned.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Leaves the group (the others take over at once) and closes the publishers. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // Leaving needs Kafka; a broker cut off from it leaves by its session timing out.
    await raceTimeout(this.#membership?.leave() ?? Promise.resolve(), 5000);
    const slots = [...this.#publishers.values()];
    this.#publishers.clear();
    await Promise.allSettled(slots.map((s) => s.ready.then((p) => p.close())));
  }

  ownerOf(topic: string, writePartition: number): number {
    const a = this.#assignment;
    if (!a) return NO_OWNER;
    const owners = a.owners[topic];
    if (owners && writePartition < owners.length) return owners[writePartition] ?? NO_OWNER;
    if (this.#memberIds.length === 0) return NO_OWNER;
    return fallbackOwner(topic, writePartition, this.#memberIds);
  }

  check(topic: string, writePartition: number): OwnerCheck {
    const self = this.deps.self().brokerId;
    if (this.#stopped) return { owned: false, ownerId: NO_OWNER, why: 'the broker is leaving the cluster' };
    if (!this.#assignment) {
      return {
        owned: false,
        ownerId: NO_OWNER,
        why: 'the broker has not been assigned write partitions yet',
      };
    }
    const k = key(topic, writePartition);
    const handedTo = this.#draining.get(k);
    if (handedTo !== undefined)
      return { owned: false, ownerId: handedTo, why: 'it was handed over to another broker' };
    const owner = this.ownerOf(topic, writePartition);
    if (owner !== self) return { owned: false, ownerId: owner, why: 'another broker owns it' };
    if (!this.#confirmed()) {
      return {
        owned: false,
        ownerId: NO_OWNER,
        why: `the cluster group has not confirmed this broker for ${this.deps.settings.sessionTimeoutMs} ms`,
      };
    }
    this.#mine.add(k);
    return { owned: true };
  }

  sweeps(topic: string): boolean {
    return !this.#stopped && this.#confirmed() && this.ownerOf(topic, 0) === this.deps.self().brokerId;
  }

  ownedOf(topic: TopicConfig): number[] {
    const out: number[] = [];
    for (let wp = 0; wp < topic.writePartitions; wp++) if (this.check(topic.name, wp).owned) out.push(wp);
    return out;
  }

  /**
   * Brokers and owners as this broker knows them. A broker the group has not confirmed for a
   * session (cut off from Kafka, or paused) may have been replaced: it leaves itself out and
   * names no owner for what it held, so clients ask another broker (the client moves on from a
   * broker that does not list itself).
   */
  metadata(topics: readonly TopicConfig[]): ClusterMetadata {
    const a = this.#assignment;
    const self = this.deps.self();
    const confirmed = this.#confirmed();
    const members = (a ? a.members : [self]).map((m) => ({
      brokerId: m.brokerId,
      host: m.host,
      port: m.port,
    }));
    const owner = (topic: string, wp: number) => {
      const o = this.ownerOf(topic, wp);
      return o === self.brokerId && !confirmed ? NO_OWNER : o;
    };
    return {
      clusterId: this.deps.settings.id,
      brokers: confirmed ? members : members.filter((m) => m.brokerId !== self.brokerId),
      owners: topics.map((t) => Array.from({ length: t.writePartitions }, (_, wp) => owner(t.name, wp))),
    };
  }

  members(): readonly ClusterMember[] | undefined {
    return this.#assignment?.members;
  }

  async fencedIn(topic: string, writePartition: number, sequences: readonly number[]): Promise<void> {
    this.#refuseStale(topic, writePartition, sequences);
    await this.#publisher(topic, writePartition);
  }

  async publish(
    topic: string,
    writePartition: number,
    pointers: readonly BatchPointer[],
  ): Promise<PublishedPointer[]> {
    this.#refuseStale(
      topic,
      writePartition,
      pointers.map((p) => p.sequence),
    );
    const k = key(topic, writePartition);
    const { slot, publisher } = await this.#publisher(topic, writePartition);
    try {
      return await publisher.publish(pointers);
    } catch (e) {
      this.#dropSlot(k, slot);
      if (!hasErrorCode(e, 'NOT_OWNER')) throw e;
      const owner = this.ownerOf(topic, writePartition);
      if (owner === this.deps.self().brokerId && !this.#draining.has(k)) {
        // Fenced while the assignment says we own it: a transaction timed out, or a broker on an
        // older assignment opened a publisher. Reopen once the group confirms us (publication retries).
        throw new TransientError(
          `${errorMessage(e)}; reopening once the cluster group confirms this broker still owns it`,
          {
            cause: e,
          },
        );
      }
      throw new NotOwnerError(errorMessage(e), owner === NO_OWNER ? -1 : owner, { cause: e });
    }
  }

  /** Throws `NotOwnerError` for batches taken before this broker's ownership was interrupted. */
  #refuseStale(topic: string, writePartition: number, sequences: readonly number[]): void {
    const staleBelow = this.deps.staleSequencesBelow(topic, writePartition);
    const stale = sequences.filter((s) => s < staleBelow);
    if (stale.length > 0) {
      throw new NotOwnerError(
        `${topic}/${writePartition}: batches ${stale.join(', ')} were taken before this broker's ownership was interrupted (another broker wrote it meanwhile); refused so that the write partition's sequences keep increasing`,
        this.deps.self().brokerId,
      );
    }
  }

  /** The write partition's open fenced publisher, opening it when there is none. */
  async #publisher(
    topic: string,
    writePartition: number,
  ): Promise<{ slot: PublisherSlot; publisher: FencedPublisher }> {
    const k = key(topic, writePartition);
    let slot = this.#publishers.get(k);
    if (!slot) {
      this.#checkMayOpen(topic, writePartition);
      slot = this.#open(topic, writePartition, 0);
    }
    try {
      return { slot, publisher: await slot.ready };
    } catch (e) {
      this.#dropSlot(k, slot);
      throw e;
    }
  }

  /** The write partitions this broker owns now (the assignor keeps them here when it can). */
  #owned(): WritePartitionRef[] {
    const out: WritePartitionRef[] = [];
    for (const k of this.#mine) {
      const [topic, wp] = k.split('\u0000') as [string, string];
      out.push({ topic, writePartition: Number(wp) });
    }
    return out;
  }

  #confirmed(): boolean {
    const at = this.#membership?.confirmedAt ?? 0;
    return Date.now() - at < this.deps.settings.sessionTimeoutMs;
  }

  /** Throws unless this broker may open (or reopen) the publisher of the write partition now. */
  #checkMayOpen(topic: string, writePartition: number): void {
    const owner = this.check(topic, writePartition);
    if (!owner.owned) {
      throw new NotOwnerError(
        `${topic}/${writePartition}: this broker does not own it (${owner.why})`,
        owner.ownerId === NO_OWNER ? -1 : owner.ownerId,
      );
    }
    const failedAt = this.#failedAt.get(key(topic, writePartition));
    if (failedAt !== undefined && (this.#membership?.confirmedAt ?? 0) <= failedAt) {
      throw new TransientError(
        `${topic}/${writePartition}: the publisher failed; waiting for the cluster group to confirm this broker still owns it`,
      );
    }
  }

  #open(topic: string, writePartition: number, delayMs: number): PublisherSlot {
    const k = key(topic, writePartition);
    const { coordination, settings, log } = this.deps;
    const ready = (async () => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      this.#checkMayOpen(topic, writePartition);
      const p = await coordination.fencedPublisher(settings.id, topic, writePartition);
      log.info(
        { topic, writePartition },
        'cluster: fenced publisher open; this broker publishes the write partition',
      );
      return p;
    })();
    ready.catch(() => {});
    const slot = { ready };
    this.#publishers.set(k, slot);
    return slot;
  }

  #dropSlot(k: string, slot: PublisherSlot): void {
    if (this.#publishers.get(k) !== slot) return;
    this.#publishers.delete(k);
    this.#failedAt.set(k, Date.now());
    void slot.ready.then((p) => p.close()).catch(() => {});
  }

  /** A new assignment: hand over what moved away, start publishers for what moved here. */
  #assign(a: ClusterAssignment): void {
    if (this.#stopped) return;
    const previous = this.#assignment;
    const prevOwner = (topic: string, wp: number) => this.ownerOf(topic, wp);
    const before = new Map<string, number>();
    const topics = new Map<string, number>();
    for (const t of this.deps.knownTopics()) topics.set(t.name, t.writePartitions);
    for (const [topic, owners] of Object.entries(a.owners))
      topics.set(topic, Math.max(topics.get(topic) ?? 0, owners.length));
    if (previous) {
      for (const [topic, n] of topics)
        for (let wp = 0; wp < n; wp++) before.set(key(topic, wp), prevOwner(topic, wp));
    }
    // A generation skipped: this broker was out of the group (paused, cut off from Kafka) and
    // another may have written its write partitions meanwhile.
    const interrupted = previous !== undefined && a.generation !== previous.generation + 1;
    this.#assignment = a;
    this.#memberIds = a.members.map((m) => m.brokerId);
    const self = this.deps.self().brokerId;
    const alive = new Set(this.#memberIds);
    const mine = new Set<string>();
    let gained = 0;
    let lost = 0;
    for (const [topic, n] of topics) {
      for (let wp = 0; wp < n; wp++) {
        const k = key(topic, wp);
        const owner = this.ownerOf(topic, wp);
        const was = before.get(k);
        if (owner === self) {
          mine.add(k);
          const regained = was === self && (interrupted || this.#draining.has(k));
          if (was !== self || regained) {
            gained++;
            this.#take(topic, wp, regained || (was !== undefined && was !== NO_OWNER && alive.has(was)));
          }
        } else if (this.#mine.has(k) || was === self) {
          lost++;
          void this.#handOver(topic, wp, owner);
        }
      }
    }
    this.#mine = mine;
    this.deps.log.info(
      {
        cluster: this.deps.settings.id,
        generation: a.generation,
        members: this.#memberIds,
        owned: mine.size,
        gained,
        lost,
      },
      'cluster assignment',
    );
    this.#firstAssignment();
  }

  /**
   * Starts owning a write partition: a fresh sequence lease (above every block taken so far, so
   * sequences keep increasing across owners; batches taken before are refused at publication),
   * and a new fenced publisher, opened after the drain time when another broker may still be
   * publishing it.
   */
  #take(topic: string, writePartition: number, afterDrain: boolean): void {
    const k = key(topic, writePartition);
    this.#draining.delete(k);
    const slot = this.#publishers.get(k);
    if (slot) this.#dropSlot(k, slot);
    this.#failedAt.delete(k);
    this.deps.forgetSequences(topic, writePartition);
    this.#open(topic, writePartition, afterDrain ? this.deps.settings.drainTimeoutMs : 0);
  }

  /** Stops taking the write partition, publishes what is open for it (bounded), then closes its publisher. */
  async #handOver(topic: string, writePartition: number, newOwner: number): Promise<void> {
    const k = key(topic, writePartition);
    this.#draining.set(k, newOwner);
    const { drainTimeoutMs } = this.deps.settings;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.deps.drain(topic, writePartition),
        new Promise((r) => {
          timer = setTimeout(r, drainTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    // Given back meanwhile: `#take` started the new ownership period already.
    if (this.#draining.get(k) !== newOwner) return;
    this.#draining.delete(k);
    const slot = this.#publishers.get(k);
    if (slot) this.#dropSlot(k, slot);
    this.#failedAt.delete(k);
    this.deps.forgetSequences(topic, writePartition);
    this.deps.log.info({ topic, writePartition, newOwner }, 'cluster: write partition handed over');
  }
}
