import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'services.sh');

/**
 * A Kafka broker of our own, started and stopped with `scripts/services.sh` through its knobs
 * (`BARGE_SERVICES_CACHE`, `BARGE_KAFKA_PORT`, `BARGE_KAFKA_CONTROLLER_PORT`,
 * `BARGE_KAFKA_SASL_PORT`), so a test can
 * stop Kafka without disturbing the shared one other test files use. The Kafka jars of the
 * shared cache are reused through a symlink; every start has a fresh data directory.
 */
export class PrivateKafka {
  private constructor(
    readonly cache: string,
    readonly port: number,
    readonly controllerPort: number,
    readonly saslPort: number,
    private readonly version: string | undefined,
  ) {}

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  static async create(): Promise<PrivateKafka> {
    const cache = mkdtempSync(path.join(tmpdir(), 'barge-private-kafka-'));
    const shared = process.env.BARGE_SERVICES_CACHE || path.join(ROOT, '.cache', 'services');
    const wanted = process.env.KAFKA_VERSION;
    let version: string | undefined;
    const candidates = existsSync(shared) ? readdirSync(shared).filter((d) => /^kafka-\d/.test(d)) : [];
    for (const dir of candidates) {
      const v = dir.slice('kafka-'.length);
      if (wanted && v !== wanted) continue;
      if (!existsSync(path.join(shared, dir, 'libs', '.complete'))) continue;
      mkdirSync(path.join(cache, dir));
      symlinkSync(path.join(shared, dir, 'libs'), path.join(cache, dir, 'libs'));
      if (existsSync(path.join(shared, dir, 'probe'))) {
        cpSync(path.join(shared, dir, 'probe'), path.join(cache, dir, 'probe'), { recursive: true });
      }
      version = v;
      break;
    }
    const [port, controllerPort, saslPort] = (await freePorts(3)) as [number, number, number];
    return new PrivateKafka(cache, port, controllerPort, saslPort, version ?? wanted);
  }

  /** Starts Kafka (fresh data) and waits until it is ready. */
  start(): Promise<void> {
    return this.run('start');
  }

  /** Stops Kafka (SIGTERM, then SIGKILL after 20 s) and deletes its data. */
  stop(): Promise<void> {
    return this.run('stop');
  }

  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.cache, { recursive: true, force: true });
    }
  }

  private run(command: 'start' | 'stop'): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BARGE_SERVICES_CACHE: this.cache,
      BARGE_KAFKA_PORT: String(this.port),
      BARGE_KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      BARGE_KAFKA_SASL_PORT: String(this.saslPort),
    };
    if (this.version) env.KAFKA_VERSION = this.version;
    return new Promise((resolve, reject) => {
      execFile(
        'bash',
        [SCRIPT, command, 'kafka'],
        { env, cwd: ROOT, timeout: 240_000 },
        (err, _out, stderr) => {
          if (err)
            reject(
              new Error(
                `scripts/services.sh ${command} kafka (private, port ${this.port}) failed: ${stderr}`,
              ),
            );
          else resolve();
        },
      );
    });
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
