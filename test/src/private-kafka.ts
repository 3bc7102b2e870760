import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, repoRoot } from './harness.js';
import { exitOf } from './kafka-fixtures.js';

/**
 * A TCP proxy on 127.0.0.1 that can make its target unreachable and reachable again:
 * - `cut('refuse')`: stop listening and reset every open connection (what clients see when
 *   the Kafka process is down or its host rejects connections);
 * - `cut('blackhole')`: keep accepting, but forward nothing in either direction (a network
 *   partition: requests hang until the client's timeouts);
 * - `restore()`: forward again (open connections of a blackhole are reset first, as a partition
 *   that heals usually resets them too).
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #mode: 'open' | 'refuse' | 'blackhole' = 'open';
  /** Connections accepted since creation, for the test's diagnostics. */
  accepted = 0;

  private constructor(
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  static async create(port: number, target: { host: string; port: number }): Promise<TcpProxy> {
    const p = new TcpProxy(port, target);
    await p.#listen();
    return p;
  }

  get mode(): string {
    return this.#mode;
  }

  async #listen(): Promise<void> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  #accept(client: Socket): void {
    this.accepted++;
    client.on('error', () => {});
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    if (this.#mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = tcpConnect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    this.#sockets.add(upstream);
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.on('data', (d) => {
      if (this.#mode === 'open') upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (this.#mode === 'open') client.write(d);
    });
  }

  async cut(mode: 'refuse' | 'blackhole'): Promise<void> {
    this.#mode = mode;
    if (mode === 'refuse') {
      const server = this.#server;
      this.#server = undefined;
      for (const s of this.#sockets) s.resetAndDestroy();
      if (server) await new Promise<void>((r) => server.close(() => r()));
    }
  }

  async restore(): Promise<void> {
    const wasBlackhole = this.#mode === 'blackhole';
    this.#mode = 'open';
    if (wasBlackhole) for (const s of this.#sockets) s.resetAndDestroy();
    if (!this.#server) await this.#listen();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

const CLUSTER_ID = 'MkU3OEVBNTcwNTJENDM2Qk';

/** Adds the listener DIRECT on `port`, advertised as itself (not the proxy), for inter-broker traffic too. */
function withDirectListener(properties: string, port: number): string {
  return properties
    .replace(/^(listeners=.*)$/m, `$1,DIRECT://127.0.0.1:${port}`)
    .replace(/^(advertised\.listeners=.*)$/m, `$1,DIRECT://127.0.0.1:${port}`)
    .replace(/^(listener\.security\.protocol\.map=.*)$/m, '$1,DIRECT:PLAINTEXT')
    .replace(/^inter\.broker\.listener\.name=.*$/m, 'inter.broker.listener.name=DIRECT');
}

/**
 * A single-node Kafka (KRaft) of this test's own, from the jars `scripts/services.sh` installed
 * (`.cache/services/kafka-<version>/libs`) and its `scripts/kafka/server.properties`, so tests
 * can stop it, restart it with its data or from an empty data directory, and cut the network to
 * it, without touching the shared Kafka other test files use.
 *
 * Kafka listens on a private port and advertises the port of a `TcpProxy` in front of it, so
 * every client connection (bootstrap and the brokers named in metadata) goes through the proxy.
 */
export class PrivateKafka {
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(
    readonly proxy: TcpProxy,
    readonly kafkaPort: number,
    readonly controllerPort: number,
    readonly root: string,
    readonly kafkaDir: string,
    /** Port of the listener that bypasses the proxy, when `create({ directListener: true })`. */
    readonly directPort?: number,
  ) {}

  /** The bootstrap list clients use: the proxy. */
  get brokers(): string[] {
    return [`127.0.0.1:${this.proxy.port}`];
  }

  /** A bootstrap list that bypasses the proxy (only with `directListener`): cutting the proxy leaves it reachable. */
  get directBrokers(): string[] {
    if (this.directPort === undefined) throw new Error('PrivateKafka created without directListener');
    return [`127.0.0.1:${this.directPort}`];
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get log(): string {
    return this.#log;
  }

  /**
   * `directListener`: a second listener, advertised as itself, for clients that must keep Kafka
   * while the proxied ones lose it; Kafka's own inter-broker traffic uses it too.
   */
  static async create({ directListener = false }: { directListener?: boolean } = {}): Promise<PrivateKafka> {
    const cache = process.env.BARGE_SERVICES_CACHE || join(repoRoot, '.cache', 'services');
    const wanted = process.env.KAFKA_VERSION;
    const dirs = existsSync(cache)
      ? readdirSync(cache)
          .filter((d) => /^kafka-4\./.test(d) && (!wanted || d === `kafka-${wanted}`))
          .filter((d) => existsSync(join(cache, d, 'libs', '.complete')))
      : [];
    const dir = dirs.sort().at(-1);
    if (!dir) {
      throw new Error(`no Kafka 4.x jars under ${cache}: run scripts/services.sh install kafka first`);
    }
    const [proxyPort, kafkaPort, controllerPort] = [await freePort(), await freePort(), await freePort()];
    const root = await mkdtemp(join(tmpdir(), 'barge-e2e-kafka-'));
    const proxy = await TcpProxy.create(proxyPort, { host: '127.0.0.1', port: kafkaPort });
    const directPort = directListener ? await freePort() : undefined;
    return new PrivateKafka(proxy, kafkaPort, controllerPort, root, join(cache, dir), directPort);
  }

  /**
   * Starts Kafka and waits until a client round trip through the proxy works. `fresh` formats a
   * new, empty data directory (topics, offsets and groups are gone); otherwise the data of the
   * previous run is kept, as when a real broker restarts.
   */
  async start({ fresh = false }: { fresh?: boolean } = {}): Promise<void> {
    if (this.#child) throw new Error('private Kafka is already running');
    const data = join(this.root, 'data');
    const props = join(this.root, 'server.properties');
    if (fresh || !existsSync(data)) {
      await rm(data, { recursive: true, force: true });
      await mkdir(data, { recursive: true });
      const template = await readFile(join(repoRoot, 'scripts', 'kafka', 'server.properties'), 'utf8');
      let text = template
        .replaceAll('@KAFKA_DATA@', data)
        .replaceAll('@KAFKA_CONTROLLER_PORT@', String(this.controllerPort))
        .replace(
          /^listeners=PLAINTEXT:\/\/127\.0\.0\.1:@KAFKA_PORT@/m,
          `listeners=PLAINTEXT://127.0.0.1:${this.kafkaPort}`,
        )
        .replace(
          /^advertised\.listeners=.*$/m,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${this.proxy.port}`,
        );
      if (this.directPort !== undefined) text = withDirectListener(text, this.directPort);
      if (/@[A-Z_]+@/.test(text)) throw new Error(`unreplaced placeholder in server.properties:\n${text}`);
      await writeFile(props, text);
      const format = await this.#java(
        [
          '-Xmx256m',
          'kafka.tools.StorageTool',
          'format',
          '--config',
          props,
          `--cluster-id=${CLUSTER_ID}`,
          '--ignore-formatted',
        ],
        false,
      );
      const code = await exitOf(format.child);
      if (code !== 0) throw new Error(`kafka storage format failed (${code}):\n${format.output()}`);
    }
    this.#log = '';
    const { child, output } = await this.#java(
      [
        '-Xms128m',
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        'kafka.Kafka',
        props,
      ],
      true,
    );
    this.#child = child;
    // Never leave a Kafka behind when the test process exits without running its hooks.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    const deadline = Date.now() + 120_000;
    while (!output().includes('Kafka Server started')) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#child = undefined;
        throw new Error(`private Kafka exited during startup:\n${output().slice(-4000)}`);
      }
      if (Date.now() > deadline)
        throw new Error(`private Kafka did not start in 120 s:\n${output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.#probe(deadline);
  }

  /** SIGTERM (controlled shutdown), SIGKILL after 20 s. Keeps the data directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exitOf(child);
    clearTimeout(timer);
    this.#child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await this.proxy.close();
    await rm(this.root, { recursive: true, force: true });
  }

  async #java(args: string[], keepLog: boolean) {
    const libs = join(this.kafkaDir, 'libs', '*');
    const env = { ...process.env };
    delete env.COLUMNS; // KAFKA-15413
    const child = spawn(
      'java',
      [
        `-Dlog4j2.configurationFile=${join(repoRoot, 'scripts', 'kafka', 'log4j2.properties')}`,
        '-cp',
        libs,
        ...args,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const collect = (d: Buffer) => {
      out += d.toString();
      if (keepLog) this.#log += d.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    return { child, output: () => out };
  }

  /** Create, list and delete a topic, and warm the group coordinator, through the proxy. */
  async #probe(deadline: number): Promise<void> {
    const kafka = new Kafka({
      brokers: this.brokers,
      clientId: 'barge-private-kafka-probe',
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 200 },
    });
    let last: unknown;
    while (Date.now() < deadline) {
      const admin = kafka.admin();
      const topic = `barge-probe-${Date.now()}`;
      try {
        await admin.connect();
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
        await admin.deleteTopics({ topics: [topic] });
        await admin.fetchOffsets({ groupId: 'barge-probe' });
        return;
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }
    throw new Error(`private Kafka did not answer a client round trip: ${String(last)}`);
  }
}
