import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerConnection } from '@barge/client';
import { ApiKey, type ClusterMetadata, NO_OWNER } from '@barge/core';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import {
  deletePointerTopics,
  freshBucket,
  kafkaBrokers,
  kafkaYaml,
  runId,
  s3Yaml,
  type TestBucket,
} from '../kafka-fixtures.js';

/** A topic every broker of the cluster is configured with. */
export interface ClusterTopic {
  name: string;
  writePartitions: number;
  readPartitions: number;
  /** Default 50 ms. */
  maxDelayMs?: number;
}

export interface ClusterOptions {
  /** Brokers started at once, ids 1..size. */
  size: number;
  topics: readonly ClusterTopic[];
  /** `cluster.sessionTimeoutMs`; default: the broker's (10000). */
  sessionTimeoutMs?: number;
  /**
   * A Kafka of the test's own: `brokersFor(id)` is broker `id`'s bootstrap list, `clients` the
   * one test clients use. Default: the shared test Kafka for everything (whose pointer topics of
   * this cluster `close()` deletes).
   */
  kafka?: { brokersFor(id: number): string[]; clients: string[] };
  /** BARGE_LOG_LEVEL of the brokers. Default `info` (the logs are kept for the report). */
  logLevel?: string;
  /** Give every broker a Kafka listener (`kafka.listen` on a port of its own, loopback). */
  kafkaListener?: boolean;
}

/** What the harness knows of one broker id: its addresses, config file and process, if any. */
interface Member {
  readonly id: number;
  readonly address: string;
  readonly admin: string;
  /** Its Kafka listener, with `kafkaListener`. */
  readonly kafka: string | undefined;
  readonly config: string;
  process: BrokerProcess | undefined;
  paused: boolean;
  /** Logs of the earlier processes of this id (restarts). */
  pastLogs: string;
}

/** Owners of every write partition, by topic, as every live broker answered Metadata v2. */
export type Owners = Record<string, number[]>;

/**
 * N `barge broker` processes forming one cluster: broker ids 1..N, each on its own listen and
 * admin port (kept across restarts, so clients bootstrapped with `addresses()` find it again),
 * one S3 bucket (moto) and one Kafka, with a cluster id, bucket, pointer topic prefix and group
 * prefix unique to this cluster.
 */
export class TestCluster {
  readonly #members = new Map<number, Member>();

  private constructor(
    readonly run: string,
    readonly clusterId: string,
    readonly bucket: TestBucket,
    private readonly dir: { path: string; remove(): Promise<void> },
    private readonly options: ClusterOptions,
  ) {}

  /** Starts `options.size` brokers and waits until each is healthy and every write partition has a live owner. */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const run = runId();
    const bucket = await freshBucket('barge-cluster');
    const dir = await tempDir('barge-cluster-');
    const cluster = new TestCluster(run, `cluster-${run}`, bucket, dir, options);
    try {
      const ids = Array.from({ length: options.size }, (_, i) => i + 1);
      await Promise.all(ids.map((id) => cluster.start(id)));
      await cluster.waitAssigned();
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /** Every broker id's client address, started or not (what producers bootstrap with). */
  addresses(): string[] {
    return [...this.#members.values()].map((m) => m.address);
  }

  address(id: number): string {
    return this.member(id).address;
  }

  /** Broker `id`'s Kafka listener (`kafkaListener`). */
  kafkaAddress(id: number): string {
    const kafka = this.member(id).kafka;
    if (!kafka) throw new Error(`broker ${id} has no Kafka listener (ClusterOptions.kafkaListener)`);
    return kafka;
  }

  /** Ids of brokers running and not paused. */
  liveIds(): number[] {
    return [...this.#members.values()].filter((m) => m.process && !m.paused).map((m) => m.id);
  }

  /** Everything broker `id` logged, over all its processes. */
  logs(id: number): string {
    const m = this.member(id);
    return m.pastLogs + (m.process?.logs() ?? '');
  }

  /** The Kafka test clients use (to read pointers). */
  get kafkaBrokers(): string[] {
    return this.options.kafka?.clients ?? kafkaBrokers();
  }

  /** The Kafka pointer queue's topic and group prefix of this cluster. */
  get kafkaPrefix(): string {
    return `barge.e2e.${this.run}.`;
  }

  /** Starts broker `id` (a new id joins the cluster) and waits until /health answers 200. */
  async start(id: number): Promise<void> {
    const m = this.#members.get(id) ?? (await this.#newMember(id));
    if (m.process) throw new Error(`broker ${id} is already running`);
    m.process = await startBroker(['--config', m.config, '--listen', m.address, '--admin', m.admin], {
      BARGE_LOG_LEVEL: this.options.logLevel ?? 'info',
    });
    m.paused = false;
    await waitFor(`broker ${id} healthy`, () => this.#healthy(m), 60_000, 100);
  }

  /** SIGTERM (a graceful stop: open batches drain) and wait for the exit; resolves to the exit code. */
  async stop(id: number): Promise<number | null> {
    const m = this.member(id);
    if (m.paused) this.resume(id);
    const code = await m.process?.stop();
    this.#gone(m);
    return code ?? null;
  }

  /** SIGKILL and wait for the exit. */
  async kill(id: number): Promise<void> {
    const m = this.member(id);
    await m.process?.kill();
    this.#gone(m);
  }

  /** SIGSTOP: the process keeps its sockets and state but runs nothing, like a long GC pause. */
  pause(id: number): void {
    const m = this.member(id);
    m.process?.child.kill('SIGSTOP');
    m.paused = true;
  }

  /** SIGCONT after `pause`. */
  resume(id: number): void {
    const m = this.member(id);
    m.process?.child.kill('SIGCONT');
    m.paused = false;
  }

  /** SIGTERM, start again on the same addresses, and wait until every write partition has a live owner. */
  async restart(id: number): Promise<void> {
    await this.stop(id);
    await this.start(id);
    await this.waitAssigned();
  }

  /** Metadata v2 of the cluster's topics, as broker `id` answers it. */
  async metadata(id: number): Promise<ClusterMetadata> {
    const connection = new BrokerConnection(this.address(id), {
      clientId: 'cluster-harness',
      connectTimeoutMs: 2000,
      requestTimeoutMs: 5000,
    });
    try {
      await connection.connect();
      const topics = this.options.topics.map((t) => t.name);
      const response = await connection.request(ApiKey.Metadata, { topics });
      if (!response.cluster) throw new Error(`broker ${id} answered Metadata without the v2 cluster section`);
      return response.cluster;
    } finally {
      await connection.close();
    }
  }

  /** Owners by topic as broker `id` sees them. */
  async owners(id: number): Promise<Owners> {
    const cluster = await this.metadata(id);
    return Object.fromEntries(this.options.topics.map((t, i) => [t.name, cluster.owners[i] ?? []]));
  }

  /**
   * Waits until every live broker answers the same owners, every write partition has one, and
   * every owner is live (`live`, default `liveIds()`); returns them.
   */
  async waitAssigned(live: readonly number[] = this.liveIds(), timeoutMs = 60_000): Promise<Owners> {
    let last = 'no answer yet';
    try {
      return await waitFor(
        'every write partition to have a live owner',
        async () => {
          const views = await Promise.all(live.map((id) => this.owners(id).catch((e: unknown) => e)));
          const problem = assignmentProblem(views, live, this.options.topics);
          if (problem === undefined) return views[0] as Owners;
          last = problem;
          return undefined;
        },
        timeoutMs,
        100,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${last}`);
    }
  }

  /** Writes every broker's logs to files in a new directory (kept after `close`); returns its path. */
  async saveLogs(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `barge-cluster-logs-${this.run}-`));
    for (const id of this.#members.keys()) await writeFile(join(dir, `broker-${id}.log`), this.logs(id));
    return dir;
  }

  /** Stops every broker (SIGCONT first for paused ones), deletes the bucket and the pointer topics. */
  async close(): Promise<void> {
    for (const m of this.#members.values()) if (m.paused) this.resume(m.id);
    await Promise.all([...this.#members.values()].map((m) => m.process?.stop().catch(() => null)));
    await this.bucket.remove().catch((e: unknown) => process.stderr.write(`bucket cleanup: ${String(e)}\n`));
    if (!this.options.kafka) await deletePointerTopics(kafkaBrokers(), this.kafkaPrefix);
    await this.dir.remove();
  }

  private member(id: number): Member {
    const m = this.#members.get(id);
    if (!m) throw new Error(`no broker ${id} in this cluster`);
    return m;
  }

  #gone(m: Member): void {
    m.pastLogs += m.process?.logs() ?? '';
    m.process = undefined;
    m.paused = false;
  }

  async #newMember(id: number): Promise<Member> {
    const config = join(this.dir.path, `broker-${id}.yaml`);
    const kafka = this.options.kafka?.brokersFor(id) ?? kafkaBrokers();
    const cluster = [`id: ${JSON.stringify(this.clusterId)}`];
    if (this.options.sessionTimeoutMs !== undefined)
      cluster.push(`sessionTimeoutMs: ${this.options.sessionTimeoutMs}`);
    const kafkaListener = this.options.kafkaListener ? `127.0.0.1:${await freePort()}` : undefined;
    await writeFile(
      config,
      [
        `broker: { id: ${id}, dataDir: ${JSON.stringify(join(this.dir.path, `data-${id}`))} }`,
        ...s3Yaml(this.bucket.name),
        ...kafkaYaml(kafka, this.run, { publishTimeoutMs: 5000, requestTimeoutMs: 5000 }),
        `cluster: { ${cluster.join(', ')} }`,
        ...(kafkaListener
          ? [`kafka: { listen: "${kafkaListener}", groupInitialRebalanceDelayMs: 100 }`]
          : []),
        'upload: { backoffBaseMs: 50, backoffMaxMs: 1000 }',
        'topics:',
        ...this.options.topics.map(
          (t) =>
            `  - { name: ${t.name}, writePartitions: ${t.writePartitions}, readPartitions: ${t.readPartitions}, batch: { maxDelayMs: ${t.maxDelayMs ?? 50} } }`,
        ),
        '',
      ].join('\n'),
    );
    const m: Member = {
      id,
      address: `127.0.0.1:${await freePort()}`,
      admin: `127.0.0.1:${await freePort()}`,
      kafka: kafkaListener,
      config,
      process: undefined,
      paused: false,
      pastLogs: '',
    };
    this.#members.set(id, m);
    return m;
  }

  async #healthy(m: Member): Promise<boolean> {
    if (!m.process) throw new Error(`broker ${m.id} exited:\n${m.pastLogs.slice(-4000)}`);
    const { exitCode, signalCode } = m.process.child;
    if (exitCode !== null || signalCode !== null)
      throw new Error(`broker ${m.id} exited (${exitCode ?? signalCode}):\n${m.process.logs().slice(-4000)}`);
    const res = await fetch(`http://${m.admin}/health`).catch(() => undefined);
    await res?.body?.cancel();
    return res?.status === 200;
  }
}

/** Why `views` (each live broker's owners, or its error) is not a settled assignment among `live`; undefined when it is. */
export function assignmentProblem(
  views: readonly (Owners | unknown)[],
  live: readonly number[],
  topics: readonly ClusterTopic[],
): string | undefined {
  const first = views[0];
  for (const [i, view] of views.entries()) {
    if (view instanceof Error || typeof view !== 'object' || view === null)
      return `broker ${live[i]}: ${String(view)}`;
    if (JSON.stringify(view) !== JSON.stringify(first))
      return `brokers ${live[0]} and ${live[i]} disagree: ${JSON.stringify(first)} vs ${JSON.stringify(view)}`;
  }
  const owners = first as Owners;
  for (const t of topics) {
    const list = owners[t.name] ?? [];
    if (list.length !== t.writePartitions)
      return `${t.name}: ${list.length} owners for ${t.writePartitions} write partitions`;
    const bad = list.findIndex((o) => o === NO_OWNER || !live.includes(o));
    if (bad >= 0)
      return `${t.name}/${bad}: owner ${list[bad] === NO_OWNER ? 'none' : list[bad]} (live: ${live.join(', ')})`;
  }
  return undefined;
}

/** Write partitions of `topic` owned by `id`. */
export function ownedBy(owners: Owners, topic: string, id: number): number[] {
  return (owners[topic] ?? []).flatMap((o, wp) => (o === id ? [wp] : []));
}
