import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer } from '@barge/client';
import { ApiKey, encodeChunk } from '@barge/core';
import type { ProbeContext } from '../fuzz/probe-kit.js';
import { pickProbe } from '../fuzz/probes.js';
import { RawConnection } from '../fuzz/raw-client.js';
import { type SlowClientProbeName, slowClientProbes } from '../fuzz/slow-clients.js';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage, messageSize, prng } from '../workload.js';

/**
 * Protocol fuzz run against a live broker process (issue 10): for FUZZ_MS, hostile clients send
 * random bytes, absurd length prefixes, truncated frames, unknown apis and versions, damaged
 * requests of every api, hostile chunks (CRC-consistent garbage, bombs, lying sizes) into the
 * topic a well-behaved producer writes, and open and drop connections. Meanwhile that producer
 * sends durable messages. Checked: the producer never fails, the broker stays up (its process,
 * and /health on the admin port), its responses are well-formed and follow the protocol's error
 * contract, its RSS stays under start + upload.inFlightBytes + 150 MiB, every acked message is
 * delivered afterwards, and it exits 0 on SIGTERM.
 *
 * Replay a run with BARGE_FUZZ_SEED=<seed printed on stderr>; lengthen it with BARGE_FUZZ_MS.
 */

const SEED = Number(process.env.BARGE_FUZZ_SEED ?? Date.now() % 0x7fffffff);
const FUZZ_MS = Number(process.env.BARGE_FUZZ_MS ?? 25_000);
const WORKERS = 6;
const MiB = 1024 * 1024;
const IN_FLIGHT_BYTES = 16 * MiB;
const RSS_HEADROOM = 150 * MiB;
const MAX_FRAME_BYTES = 16 * MiB;
const SLOW_LIMITS = { idleTimeoutMs: 3_000, requestReadTimeoutMs: 3_000 };

const ALL_SLOW: readonly SlowClientProbeName[] = ['idle', 'slowloris', 'never-reading', 'partial-frames'];

/**
 * Slow and silent clients (issue 10 findings 2-4: never-reading ReadObject pipelines, partial
 * frames at the size limit, idle sockets, slowloris): every run has all of them, unless
 * BARGE_FUZZ_SLOW_CLIENTS names some (a comma-separated list, or `all`, or `none`).
 */
const SLOW_CLIENT_PROBES_ON: readonly SlowClientProbeName[] = ALL_SLOW;

const slowOn: readonly SlowClientProbeName[] = (() => {
  const env = process.env.BARGE_FUZZ_SLOW_CLIENTS;
  if (env === undefined) return SLOW_CLIENT_PROBES_ON;
  if (env === 'all') return ALL_SLOW;
  return env.split(',').filter((n): n is SlowClientProbeName => ALL_SLOW.includes(n as SlowClientProbeName));
})();

const GOOD = 'good';
const FUZZ = 'fuzz';
/** Producer id of every hostile request (2^53 - 7: no client picks it by chance). */
const HOSTILE_PRODUCER_ID = Number.MAX_SAFE_INTEGER - 6;

async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Stores a 4 MiB batch in the fuzz topic and returns its key (for ReadObject probes). */
async function storeObject(address: string, violations: string[]): Promise<{ key: string; size: number }> {
  const c = await RawConnection.open(address, violations, 'setup');
  try {
    const chunk = encodeChunk([{ value: Buffer.alloc(4 * MiB, 7) }], 'none', {
      producerId: HOSTILE_PRODUCER_ID,
    });
    const produced = await c.request(ApiKey.Produce, {
      topic: FUZZ,
      writePartition: 0,
      acks: 'durable',
      producerId: HOSTILE_PRODUCER_ID,
      timeoutMs: 30_000,
      chunks: [chunk],
    });
    assert.equal(produced?.errorCode, 0, `setup produce: ${JSON.stringify(produced?.body)}`);
    const joined = await c.request(ApiKey.JoinGroup, {
      group: 'fuzz-setup',
      topic: FUZZ,
      sessionTimeoutMs: 0,
      fromBeginning: true,
      clientId: 'setup',
    });
    assert.equal(joined?.errorCode, 0, `setup join: ${JSON.stringify(joined?.body)}`);
    const { memberId } = joined!.body as { memberId: string };
    return await waitFor('the setup batch pointer', async () => {
      const res = await c.request(ApiKey.FetchPointers, { memberId, maxRecords: 1, maxWaitMs: 1_000 });
      const rec =
        res?.errorCode === 0
          ? (res.body as { records: { pointer: { storage: { key: string }; objectSize: number } }[] })
              .records[0]
          : undefined;
      return rec ? { key: rec.pointer.storage.key, size: rec.pointer.objectSize } : undefined;
    });
  } finally {
    c.destroy();
  }
}

describe('protocol fuzz against a live broker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir('barge-protocol-fuzz-');
  });
  after(async () => {
    await broker?.kill();
    await dir?.remove();
  });

  it('hostile clients never crash the broker, bloat it, or cost a well-behaved producer a message', async () => {
    process.stderr.write(
      `protocol fuzz: seed ${SEED}, ${FUZZ_MS} ms, slow-client probes: ${slowOn.join(', ') || 'none'}\n`,
    );
    const config = join(dir.path, 'barge.yaml');
    const slowLimits =
      slowOn.length > 0
        ? `, idleTimeoutMs: ${SLOW_LIMITS.idleTimeoutMs}, requestReadTimeoutMs: ${SLOW_LIMITS.requestReadTimeoutMs}`
        : '';
    await writeFile(
      config,
      [
        `broker: { id: 5, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        `  - { name: ${GOOD}, writePartitions: 2, readPartitions: 2, batch: { maxBytes: 512KiB, maxDelayMs: 20 } }`,
        `  - { name: ${FUZZ}, batch: { maxBytes: 8MiB, maxDelayMs: 20 } }`,
        `upload: { inFlightBytes: ${IN_FLIGHT_BYTES} }`,
        `limits: { maxFrameBytes: ${MAX_FRAME_BYTES}${slowLimits} }`,
        '',
      ].join('\n'),
    );
    const adminPort = await freePort();
    broker = await startBroker(['--config', config, '--admin', `127.0.0.1:${adminPort}`]);
    const pid = broker.child.pid!;
    const address = broker.address;
    const violations: string[] = [];
    let exit: string | undefined;
    broker.child.on('exit', (code, signal) => {
      exit ??= `exited with code ${code} signal ${signal}`;
    });

    const object = await storeObject(address, violations);
    await new Promise((r) => setTimeout(r, 500));
    const rssStart = (await rssBytes(pid))!;
    const rssBound = rssStart + IN_FLIGHT_BYTES + RSS_HEADROOM;
    let rssMax = rssStart;
    let healthChecks = 0;
    const healthFailures: string[] = [];
    const fuzzEnd = Date.now() + FUZZ_MS;
    let watching = true;
    const watcher = (async () => {
      for (let tick = 0; watching; tick++) {
        const rss = await rssBytes(pid);
        if (rss !== undefined) rssMax = Math.max(rssMax, rss);
        if (tick % 5 === 0 && exit === undefined) {
          healthChecks++;
          const res = await fetch(`http://127.0.0.1:${adminPort}/health`, {
            signal: AbortSignal.timeout(10_000),
          }).catch((e: unknown) => String(e));
          if (typeof res === 'string' || res.status !== 200)
            healthFailures.push(typeof res === 'string' ? res : `status ${res.status}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    // The well-behaved producer: durable sends the whole time, none may fail.
    const producer = new Producer({ brokers: [address], acks: 'durable', lingerMs: 5, clientId: 'honest' });
    await producer.connect();
    const acked = new Uint8Array(2_000_000);
    let sent = 0;
    let ackedCount = 0;
    const sendFailures: string[] = [];
    const sizes = prng(SEED);
    const producing = (async () => {
      const inFlight = new Set<Promise<void>>();
      while (Date.now() < fuzzEnd && sent + 20 <= acked.length) {
        const ids = Array.from({ length: 20 }, (_, i) => sent + i);
        sent += ids.length;
        const p: Promise<void> = producer
          .send({
            topic: GOOD,
            messages: ids.map((id) => makeMessage(id, Math.min(messageSize(sizes), 4096))),
          })
          .then(() => {
            for (const id of ids) acked[id] = 1;
            ackedCount += ids.length;
          })
          .catch((e: unknown) => {
            if (sendFailures.length < 5) sendFailures.push(String(e));
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        while (inFlight.size >= 4) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();

    // The hostile clients.
    const counts = new Map<string, number>();
    const ctxFor = (worker: number): ProbeContext => ({
      address,
      random: prng(SEED * 31 + worker),
      violations,
      count: (what) => counts.set(what, (counts.get(what) ?? 0) + 1),
      hostileProducerId: HOSTILE_PRODUCER_ID,
      goodTopic: GOOD,
      fuzzTopic: FUZZ,
      object,
      maxFrameBytes: MAX_FRAME_BYTES,
    });
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      const ctx = ctxFor(w);
      while (Date.now() < fuzzEnd && exit === undefined) {
        const probe = pickProbe(ctx.random);
        await probe
          .run(ctx)
          .catch((e: unknown) => violations.push(`${probe.name} probe threw: ${String(e)}`));
      }
    });
    const slowProbes = slowClientProbes(SLOW_LIMITS);
    const slow = slowOn.map((name, i) =>
      slowProbes[name](ctxFor(WORKERS + i)).catch((e: unknown) =>
        violations.push(`${name} probe threw: ${String(e)}`),
      ),
    );
    await Promise.all([...workers, ...slow, producing]);
    await producer.disconnect();
    const aliveAfterFuzz = exit === undefined;
    const finalHealth = await fetch(`http://127.0.0.1:${adminPort}/health`).then(
      (r) => r.status,
      (e: unknown) => String(e),
    );
    watching = false;
    await watcher;

    // Every acked message is delivered; messages of the hostile producer are ignored.
    const log = new DeliveryLog(sent);
    if (aliveAfterFuzz) {
      const consumer = new Consumer({ brokers: [address], groupId: `verify-${SEED}`, fromBeginning: true });
      await consumer.connect();
      await consumer.subscribe({ topic: GOOD });
      consumer.on('crash', (e) => log.failures.push(String(e)));
      const running = consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.producerId === producer.producerId) log.record(message);
          },
        })
        .catch((e: unknown) => log.failures.push(String(e)));
      await waitFor(
        'every acked message',
        () => log.missing((id) => acked[id] === 1, 1).length === 0 || log.failures.length > 0,
        30_000,
        200,
      ).catch(() => undefined);
      await consumer.disconnect();
      await running;
    }
    const exitCode = aliveAfterFuzz ? await broker.stop() : undefined;
    broker = undefined;

    const summary = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`);
    process.stderr.write(
      `protocol fuzz (seed ${SEED}): ${summary.join('; ')}\n` +
        `  producer: ${sent} sent, ${ackedCount} acked durable, ${sendFailures.length} failed; delivered ${log.delivered}\n` +
        `  broker RSS: start ${(rssStart / MiB).toFixed(0)} MiB, max ${(rssMax / MiB).toFixed(0)} MiB, bound ${(rssBound / MiB).toFixed(0)} MiB; ${healthChecks} health checks\n`,
    );
    const seed = `(seed ${SEED})`;
    assert.equal(
      exit === undefined || exitCode !== undefined,
      true,
      `broker ${exit} during the fuzz run ${seed}`,
    );
    assert.deepEqual(
      violations.slice(0, 20),
      [],
      `${violations.length} protocol contract violations ${seed}`,
    );
    assert.deepEqual(healthFailures, [], `/health failed during the run ${seed}`);
    assert.equal(finalHealth, 200, `/health after the run ${seed}`);
    assert.deepEqual(sendFailures, [], `the well-behaved producer failed ${seed}`);
    assert.ok(ackedCount > 0, 'the well-behaved producer got acks');
    assert.ok(
      rssMax <= rssBound,
      `broker RSS reached ${(rssMax / MiB).toFixed(0)} MiB, above ${(rssBound / MiB).toFixed(0)} MiB ${seed}`,
    );
    assert.deepEqual(log.failures, [], `consumer failures ${seed}`);
    assert.deepEqual(
      log.missing((id) => acked[id] === 1),
      [],
      `acked messages never delivered ${seed}`,
    );
    assert.equal(exitCode, 0, `broker exit code after SIGTERM ${seed}`);
  });
});
