/**
 * Storage adapter throughput against the local emulators (moto, fake-gcs-server, Azurite) and
 * the local file system for reference: put and get of many 1 MiB objects in parallel and of a
 * few 64 MiB objects one at a time (each one uploaded in parallel parts/blocks by the adapter).
 * Results go into docs/benchmarks.md ("Storage adapters").
 *
 *   scripts/services.sh start s3 gcs azure
 *   npx tsc -b test && node test/dist/bench/storage-bench.js
 *   BENCH_BACKENDS=s3,azure BENCH_SMALL=128 BENCH_LARGE=2 node test/dist/bench/storage-bench.js
 *
 * Knobs: BENCH_BACKENDS (default s3,gcs,azure,local), BENCH_SMALL (count of 1 MiB objects,
 * default 64), BENCH_LARGE (count of 64 MiB objects, default 4), BENCH_CONCURRENCY (parallel
 * small puts/gets, default 8), BENCH_RUNS (runs per backend; the best is reported, default 2).
 *
 * These are emulator figures on loopback: they measure the adapters plus the emulators (which
 * run on the same machine and share its CPUs), not a cloud service.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import type { ObjectStorage } from '@barge/core';
import { mapLimit } from '@barge/core';
import { AzureStorage } from '@barge/storage-azure';
import { GcsStorage } from '@barge/storage-gcs';
import { createLocalStorage } from '@barge/storage-local';
import { S3Storage } from '@barge/storage-s3';
import { serviceEnv } from '@barge/testkit';
import { Storage } from '@google-cloud/storage';

delete process.env.STORAGE_EMULATOR_HOST;

const MiB = 1024 * 1024;
const SMALL = Number(process.env.BENCH_SMALL ?? 64);
const LARGE = Number(process.env.BENCH_LARGE ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 's3,gcs,azure,local').split(',').filter(Boolean);

interface Backend {
  name: string;
  emulator: string;
  config: string;
  open(): Promise<{ storage: ObjectStorage; dispose(): Promise<void> }>;
}

const id = () => `barge-bench-${randomBytes(4).toString('hex')}`;

const backends: Record<string, Backend> = {
  s3: {
    name: 's3',
    emulator: 'moto 5.2.1 (server mode)',
    config: 'defaults: multipart from 16 MiB, 8 MiB parts, 4 in parallel',
    async open() {
      const endpoint = serviceEnv('s3');
      const bucket = id();
      const credentials = () => ({ accessKeyId: 'test', secretAccessKey: 'test' });
      const admin = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: credentials(),
      });
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      const storage = new S3Storage({ bucket, endpoint, forcePathStyle: true, ...credentials() });
      return {
        storage,
        async dispose() {
          await storage.close();
          await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
          admin.destroy();
        },
      };
    },
  },
  gcs: {
    name: 'gcs',
    emulator: 'fake-gcs-server v1.55.1 (-backend memory)',
    config: 'defaults: resumable from 8 MiB (one request per object), CRC32C validation on',
    async open() {
      const apiEndpoint = serviceEnv('gcs');
      const bucket = id();
      const admin = new Storage({ apiEndpoint, projectId: 'bench' });
      await admin.createBucket(bucket);
      const storage = new GcsStorage({ bucket, apiEndpoint, projectId: 'bench' });
      return {
        storage,
        async dispose() {
          await storage.close();
          await admin.bucket(bucket).deleteFiles({ force: true });
          await admin.bucket(bucket).delete();
        },
      };
    },
  },
  azure: {
    name: 'azure',
    emulator: 'Azurite 3.37.0 (in-memory)',
    config: 'defaults: blocks from 16 MiB, 8 MiB blocks, 4 in parallel, Content-MD5 per request',
    async open() {
      const connectionString = serviceEnv('azure');
      const container = id();
      const admin = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
      await admin.create();
      const storage = new AzureStorage({ container, connectionString });
      return {
        storage,
        async dispose() {
          await storage.close();
          await admin.delete();
        },
      };
    },
  },
  local: {
    name: 'local',
    emulator: 'local file system (reference; fsync on every put)',
    config: `root in ${tmpdir()}`,
    async open() {
      const root = mkdtempSync(join(tmpdir(), 'barge-bench-'));
      const storage = await createLocalStorage({ root });
      return {
        storage,
        async dispose() {
          await storage.close();
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
  },
};

interface Result {
  backend: string;
  smallPut: number;
  smallGet: number;
  largePut: number;
  largeGet: number;
  cpuPerGB: number;
}

/** MB/s (10^6 bytes) of `bytes` moved by `fn`. */
async function timed(bytes: number, fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return bytes / 1e6 / s;
}

async function runOnce(b: Backend): Promise<Result> {
  const { storage, dispose } = await b.open();
  const cpu0 = process.cpuUsage();
  try {
    const small = Array.from({ length: SMALL }, (_, i) => ({
      key: `bench/small/${String(i).padStart(4, '0')}`,
      body: randomFillSync(Buffer.allocUnsafe(MiB)),
    }));
    const large = Array.from({ length: LARGE }, (_, i) => ({
      key: `bench/large/${i}`,
      // As the broker writes a batch: a header and several chunks, not one buffer.
      body: Array.from({ length: 16 }, () => randomFillSync(Buffer.allocUnsafe(4 * MiB))),
    }));
    const smallBytes = SMALL * MiB;
    const largeBytes = LARGE * 64 * MiB;
    const smallPut = await timed(smallBytes, async () => {
      await mapLimit(small, CONCURRENCY, (o) => storage.put(o.key, o.body));
    });
    const smallGet = await timed(smallBytes, async () => {
      await mapLimit(small, CONCURRENCY, async (o) => {
        const got = await storage.get(o.key);
        if (!got.equals(o.body)) throw new Error(`${b.name}: ${o.key} came back different`);
      });
    });
    const largePut = await timed(largeBytes, async () => {
      for (const o of large) await storage.put(o.key, o.body);
    });
    const largeGet = await timed(largeBytes, async () => {
      for (const o of large) {
        const got = await storage.get(o.key);
        if (got.length !== 64 * MiB || !got.subarray(0, 4 * MiB).equals(o.body[0] as Buffer)) {
          throw new Error(`${b.name}: ${o.key} came back different`);
        }
      }
    });
    const cpu = process.cpuUsage(cpu0);
    const gb = (2 * (smallBytes + largeBytes)) / 1e9;
    await storage.delete([...small, ...large].map((o) => o.key));
    return {
      backend: b.name,
      smallPut,
      smallGet,
      largePut,
      largeGet,
      cpuPerGB: (cpu.user + cpu.system) / 1e6 / gb,
    };
  } finally {
    await dispose();
  }
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg()[0] ?? 0;
  const rows: string[] = [];
  for (const name of BACKENDS) {
    const b = backends[name];
    if (!b) throw new Error(`unknown backend ${name}; expected one of ${Object.keys(backends).join(', ')}`);
    let best: Result | undefined;
    for (let run = 0; run < RUNS; run++) {
      const r = await runOnce(b);
      process.stderr.write(`${name} run ${run + 1}: ${JSON.stringify(r)}\n`);
      if (
        !best ||
        r.smallPut + r.smallGet + r.largePut + r.largeGet >
          best.smallPut + best.smallGet + best.largePut + best.largeGet
      ) {
        best = r;
      }
    }
    const r = best as Result;
    rows.push(
      `| ${b.name} | ${b.emulator} | ${fmt(r.smallPut)} | ${fmt(r.smallGet)} | ${fmt(r.largePut)} | ${fmt(r.largeGet)} | ${r.cpuPerGB.toFixed(2)} |`,
    );
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `Run ${started.toISOString()}; ${cpus().length} vCPU ${cpu}; Node ${process.version}; load average ${load0.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at end.`,
  );
  console.log(
    `${SMALL} × 1 MiB with ${CONCURRENCY} in parallel; ${LARGE} × 64 MiB (16 × 4 MiB buffers) one at a time; best of ${RUNS} runs.`,
  );
  console.log('');
  console.log(
    '| adapter | against | 1 MiB put MB/s | 1 MiB get MB/s | 64 MiB put MB/s | 64 MiB get MB/s | bench CPU s per GB moved |',
  );
  console.log(
    '| ------- | ------- | -------------: | -------------: | --------------: | --------------: | -----------------------: |',
  );
  for (const row of rows) console.log(row);
  for (const name of BACKENDS) console.log(`- ${name}: ${backends[name]?.config}`);
}

await main();
