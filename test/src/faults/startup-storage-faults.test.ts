import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Consumer, Producer } from '@barge/client';
import { type FaultProxy, type ProxyRequestInfo, serviceEnv, startFaultProxy } from '@barge/testkit';
import { type BrokerProcess, runCli, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage } from '../workload.js';

const TOPIC = 'restart';
const TOTAL = 200;

/**
 * A restart during a storage hiccup: S3 (the moto test server) behind the testkit fault proxy,
 * which aborts topic-metadata downloads mid-body, resets uploads and blackholes listings (no
 * answer; the SDK's request timeout fires) for a few seconds while the broker starts. The SDK
 * does not retry (`maxAttempts: 1`), so every failure reaches the broker's start-up.
 */
describe('broker start-up while S3 fails transiently', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let proxy: FaultProxy;
  let broker: BrokerProcess | undefined;
  let storage: Record<string, unknown>;

  const writeConfig = async (name: string, extra: string[] = []) => {
    const file = join(dir.path, name);
    await writeFile(
      file,
      [
        `broker: { id: 4, dataDir: ${JSON.stringify(join(dir.path, 'data'))}${extra.length ? `, ${extra.join(', ')}` : ''} }`,
        `storage: ${JSON.stringify(storage)}`,
        'upload: { backoffMaxMs: 1000 }',
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
    return file;
  };

  before(async () => {
    dir = await tempDir('barge-startup-faults-');
    const endpoint = serviceEnv('s3');
    const bucket = `barge-startup-${randomBytes(4).toString('hex')}`;
    const s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    proxy = await startFaultProxy({ target: endpoint });
    storage = {
      adapter: 's3',
      bucket,
      prefix: 'barge',
      endpoint: proxy.url,
      forcePathStyle: true,
      region: 'us-east-1',
      accessKeyId: 'test',
      secretAccessKey: 'test',
      maxAttempts: 1,
      requestTimeoutMs: 1000,
      connectionTimeoutMs: 1000,
    };
  });
  after(async () => {
    await broker?.stop();
    await proxy?.close();
    await dir?.remove();
  });

  it('starts once the faults clear, with one log line per failed attempt, and serves what was acked before', async (t) => {
    const config = await writeConfig('barge.yaml');
    // A first run stores the topic metadata and some acked messages.
    broker = await startBroker(['--config', config]);
    const producer = new Producer({ brokers: [broker.address], acks: 'durable' });
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: TOTAL }, (_, id) => makeMessage(id, 300)),
    });
    await producer.disconnect();
    await broker.stop();
    broker = undefined;

    // Faults for the first 4 s after the broker's first request.
    const faultMs = 4000;
    let until: number | undefined;
    const during = (test: (r: ProxyRequestInfo) => boolean) => (r: ProxyRequestInfo) => {
      until ??= Date.now() + faultMs;
      return Date.now() < until && test(r);
    };
    const isList = (r: ProxyRequestInfo) => r.method === 'GET' && /list-type=2/.test(r.url);
    const isTopicGet = (r: ProxyRequestInfo) => r.method === 'GET' && /\/_meta\/topics\/.+/.test(r.path);
    let listings = 0;
    proxy.clearRequests();
    proxy.setFaults([
      // Every other listing gets no answer at all (the SDK's 1 s request timeout fires); the
      // others go through, so the topic metadata download meets its fault too.
      { match: during((r) => isList(r) && listings++ % 2 === 0), fault: { kind: 'delay', ms: 3000 } },
      // Topic metadata: the response is cut mid-body with a reset ("Error: aborted").
      { match: during(isTopicGet), fault: { kind: 'reset', phase: 'body', afterBytes: 10 } },
      // Everything else: the connection is reset before it is forwarded.
      {
        match: during((r) => !isList(r) && !isTopicGet(r)),
        fault: { kind: 'reset', phase: 'request' },
      },
    ]);
    const started = Date.now();
    broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
    const startMs = Date.now() - started;
    const logs = broker.logs();
    const attempts =
      logs.match(/start-up: cannot load topic metadata[^"]*\(attempt \d+\); retrying in \d+ ms: [^"]*/g) ??
      [];
    t.diagnostic(
      `started after ${startMs} ms; ${attempts.length} failed attempts logged; proxy saw ${proxy.requests().length} requests, ${proxy.requests().filter((r) => r.fault).length} faulted`,
    );
    for (const line of attempts) t.diagnostic(line);
    assert.ok(Date.now() >= (until ?? Number.POSITIVE_INFINITY), 'the broker started after the faults ended');
    assert.ok(attempts.length >= 2, `one line per failed attempt:\n${logs}`);
    assert.ok(
      proxy.requests().some((r) => r.fault === 'reset'),
      'connections were reset or aborted during start-up',
    );
    assert.ok(
      proxy.requests().some((r) => r.fault === 'delay'),
      'requests were blackholed during start-up',
    );

    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: 'after-restart',
      fromBeginning: true,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    const log = new DeliveryLog(TOTAL);
    void log.consumeWith(consumer);
    await waitFor('every message acked before the restart', () => log.delivered >= TOTAL, 60_000).catch(
      () => undefined,
    );
    await consumer.disconnect();
    assert.deepEqual(log.failures, []);
    assert.deepEqual(log.missing(), []);
  });

  it('exits with a clear message when storage stays down past broker.startupTimeoutMs', async () => {
    await broker?.stop();
    broker = undefined;
    const config = await writeConfig('down.yaml', ['startupTimeoutMs: 3000']);
    proxy.setFaults({ fault: { kind: 'reset', phase: 'request' } });
    const started = Date.now();
    const run = await runCli(['broker', '--config', config, '--listen', '127.0.0.1:0'], {
      env: { BARGE_LOG_LEVEL: 'warn' },
      timeoutMs: 60_000,
    });
    const ms = Date.now() - started;
    proxy.clearFaults();
    assert.equal(run.code, 1, `exit code 1:\n${run.stderr}`);
    assert.ok(ms >= 3000 && ms < 30_000, `gave up after the start-up timeout (${ms} ms)`);
    assert.match(
      run.stderr,
      /barge: start-up failed: cannot load topic metadata from s3 storage \S+: \d+ attempt\(s\) in \d+ ms, gave up after broker\.startupTimeoutMs \(3000 ms\); last error: s3 list/,
    );
  });
});
