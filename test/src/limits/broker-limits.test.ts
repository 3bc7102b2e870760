/**
 * Bounded memory and connection slots whatever a client does (issue 10, findings 2, 3, 4, 7),
 * against a real `barge broker` process: its RSS is read from /proc. In every test a
 * well-behaved producer on its own connection still gets durable acks.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ApiKey, ErrorCode, READ_TO_END } from '@barge/core';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { ok, produceOf, rssMiB, WireClient } from './wire-client.js';

const MiB = 1024 * 1024;

interface Running {
  broker: BrokerProcess;
  dir: string;
  pid: number;
  /** A new connection that reads its replies. */
  client(options?: { localAddress?: string }): Promise<WireClient>;
  /** Sends one durable produce on a fresh connection and checks it is acked. */
  goodProduce(topic?: string): Promise<void>;
}

async function withBroker(env: Record<string, string>, run: (b: Running) => Promise<void>): Promise<void> {
  const dir = await tempDir('barge-limits-');
  const broker = await startBroker(['--data', dir.path], env);
  const clients: WireClient[] = [];
  const b: Running = {
    broker,
    dir: dir.path,
    pid: broker.child.pid!,
    async client(options = {}) {
      const c = await WireClient.connect(broker.address, options);
      clients.push(c);
      return c;
    },
    async goodProduce(topic = 'good') {
      const c = await b.client();
      ok(await c.request(ApiKey.CreateTopic, { name: topic, ifNotExists: true }));
      const r = ok(await c.request(ApiKey.Produce, produceOf(topic, ['hello', 'world'])));
      assert.ok(r.offset >= 0, 'durable ack with an offset');
      c.close();
    },
  };
  try {
    await run(b);
  } finally {
    for (const c of clients) c.close();
    await broker.kill();
    await dir.remove();
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls the broker's RSS while `during` runs, and returns the highest value seen. */
async function peakRss(
  pid: number,
  ms: number,
  during: () => Promise<void> = async () => {},
): Promise<number> {
  let peak = await rssMiB(pid);
  let done = false;
  const work = during().finally(() => {
    done = true;
  });
  const deadline = Date.now() + ms;
  while (Date.now() < deadline || !done) {
    peak = Math.max(peak, await rssMiB(pid));
    await new Promise((r) => setTimeout(r, 25));
  }
  await work;
  return peak;
}

/** The key (path under the storage root) of the largest batch object in the broker's data dir. */
async function largestObject(dataDir: string): Promise<{ key: string; size: number }> {
  const root = join(dataDir, 'objects');
  let best = { key: '', size: -1 };
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const { size } = await stat(p);
        if (size > best.size) best = { key: relative(root, p), size };
      }
    }
  };
  await walk(join(root, 'topics'));
  return best;
}

describe('broker limits against a real broker process', { concurrency: false, timeout: 120_000 }, () => {
  it('a client pipelining ReadObject for an 8 MiB object and never reading does not grow the broker', async (t) => {
    await withBroker({}, async (b) => {
      const c = await b.client();
      ok(await c.request(ApiKey.CreateTopic, { name: 'big', batch: { maxBytes: 16 * MiB } }));
      const values = Array.from({ length: 8 }, (_, i) => Buffer.alloc(MiB, i));
      ok(await c.request(ApiKey.Produce, produceOf('big', values)));
      const { key, size } = await largestObject(b.dir);
      assert.ok(size > 8 * MiB, `an object of 8 MiB, got ${size}`);
      const baseline = await rssMiB(b.pid);
      const hostile = await WireClient.connect(b.broker.address, { read: false });
      for (let i = 0; i < 250; i++)
        void hostile.request(ApiKey.ReadObject, { key, offset: 0, length: READ_TO_END });
      const peak = await peakRss(b.pid, 3000, () => b.goodProduce());
      t.diagnostic(`broker RSS ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
      assert.ok(peak - baseline < 150, `RSS grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`);
      hostile.close();
      await b.goodProduce();
      const afterwards = await rssMiB(b.pid);
      t.diagnostic(`broker RSS after the client left: ${afterwards.toFixed(0)} MiB`);
      assert.ok(
        afterwards - baseline < 100,
        `RSS after the client left: ${afterwards.toFixed(0)} MiB (baseline ${baseline.toFixed(0)})`,
      );
    });
  });

  it('closes a connection whose client reads none of its responses for limits.idleTimeoutMs', async () => {
    await withBroker({ BARGE_LIMITS_IDLE_TIMEOUT_MS: '1000' }, async (b) => {
      const c = await b.client();
      ok(await c.request(ApiKey.CreateTopic, { name: 'big', batch: { maxBytes: 16 * MiB } }));
      ok(await c.request(ApiKey.Produce, produceOf('big', [Buffer.alloc(4 * MiB, 1)])));
      const { key } = await largestObject(b.dir);
      const hostile = await WireClient.connect(b.broker.address, { read: false });
      const replies = Array.from({ length: 50 }, () =>
        hostile.request(ApiKey.ReadObject, { key, offset: 0, length: READ_TO_END }),
      );
      await b.goodProduce();
      await new Promise((r) => setTimeout(r, 2500));
      // Reading now shows whether the broker gave up on the connection or kept everything for it
      // (a paused socket does not notice the close before it reads).
      hostile.socket.resume();
      await within(5000, 'the non-reading connection closed', hostile.whenClosed);
      const answered = (await Promise.allSettled(replies)).filter((r) => r.status === 'fulfilled').length;
      assert.ok(answered < 50, `${answered} of 50 replies received`);
      await b.goodProduce();
    });
  });

  it('connections holding 16 MiB-1 of a produce frame stay within the frame budget', async (t) => {
    await withBroker({}, async (b) => {
      await b.goodProduce();
      const baseline = await rssMiB(b.pid);
      const frameLength = 16 * MiB;
      // One buffer shared by every connection: the length prefix, a produce header, then zeros,
      // one byte short of the frame.
      const partial = Buffer.alloc(4 + frameLength - 1);
      partial.writeUInt32BE(frameLength, 0);
      partial.writeUInt16BE(ApiKey.Produce, 4);
      partial.writeUInt16BE(1, 6);
      partial.writeUInt32BE(1, 8);
      const hostile: WireClient[] = [];
      for (let i = 0; i < 100; i++) {
        const h = await b.client();
        h.write(partial);
        hostile.push(h);
      }
      const peak = await peakRss(b.pid, 4000, () => b.goodProduce());
      t.diagnostic(`broker RSS ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
      assert.ok(peak - baseline < 150, `RSS grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`);
      for (const h of hostile) h.close();
      await b.goodProduce();
    });
  });

  it('closes idle connections after limits.idleTimeoutMs so new clients get in, but not a long poll', async () => {
    const env = { BARGE_LIMITS_MAX_CONNECTIONS: '20', BARGE_LIMITS_IDLE_TIMEOUT_MS: '1000' };
    await withBroker(env, async (b) => {
      await b.goodProduce();
      // A group member in a long poll (3 s) stays connected past the idle timeout.
      const member = await b.client();
      ok(await member.request(ApiKey.CreateTopic, { name: 'quiet', ifNotExists: true }));
      const { memberId } = ok(
        await member.request(ApiKey.JoinGroup, {
          group: 'g',
          topic: 'quiet',
          sessionTimeoutMs: 30_000,
          fromBeginning: true,
          clientId: 'long-poll',
        }),
      );
      const started = Date.now();
      const poll = member.request(ApiKey.FetchPointers, { memberId, maxRecords: 10, maxWaitMs: 2500 });
      const silent: WireClient[] = [];
      for (let i = 0; i < 19; i++) silent.push(await b.client());
      const refused = await b.client();
      await within(2000, 'the 21st connection refused', refused.whenClosed);
      assert.equal(refused.unsolicited[0]?.errorCode, ErrorCode.TOO_MANY_CONNECTIONS);
      await within(5000, 'silent connections closed', Promise.all(silent.map((s) => s.whenClosed)));
      ok(await poll);
      assert.ok(Date.now() - started >= 2400, 'the long poll ran to its end');
      assert.equal(member.closed, false);
      await b.goodProduce();
    });
  });

  it('closes a connection that dribbles a frame slower than limits.requestReadTimeoutMs (slowloris)', async () => {
    await withBroker({ BARGE_LIMITS_REQUEST_READ_TIMEOUT_MS: '1000' }, async (b) => {
      const slow = await b.client();
      const frame = Buffer.alloc(4 + 1000);
      frame.writeUInt32BE(1000, 0);
      frame.writeUInt16BE(ApiKey.Produce, 4);
      let sent = 0;
      const dribble = setInterval(() => {
        if (sent < frame.length && !slow.closed) slow.write(frame.subarray(sent, ++sent));
      }, 100);
      try {
        const started = Date.now();
        await b.goodProduce();
        await within(5000, 'slowloris connection closed', slow.whenClosed);
        const took = Date.now() - started;
        assert.ok(took >= 900, `closed after ${took} ms`);
        assert.ok(sent < frame.length);
        await b.goodProduce();
      } finally {
        clearInterval(dribble);
      }
    });
  });

  it('refuses connections above limits.maxConnectionsPerAddress; other addresses still get in', async () => {
    await withBroker({ BARGE_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '5' }, async (b) => {
      const held: WireClient[] = [];
      for (let i = 0; i < 5; i++) held.push(await b.client());
      const sixth = await b.client();
      await within(2000, 'the 6th connection refused', sixth.whenClosed);
      assert.equal(sixth.unsolicited[0]?.errorCode, ErrorCode.TOO_MANY_CONNECTIONS);
      assert.match(sixth.unsolicited[0]?.message ?? '', /per client address/);
      const other = await b.client({ localAddress: '127.0.0.2' });
      ok(await other.request(ApiKey.CreateTopic, { name: 'good', ifNotExists: true }));
      ok(await other.request(ApiKey.Produce, produceOf('good', ['from another address'])));
      held[0]!.close();
      await waitFor('a slot to free up', async () => {
        const c = await b.client();
        const r = await c.request(ApiKey.ListTopics, {}).catch(() => undefined);
        c.close();
        return r?.errorCode === 0;
      });
    });
  });

  it('answers CreateTopic beyond limits.maxTopics with TOO_MANY_TOPICS', async () => {
    await withBroker({ BARGE_LIMITS_MAX_TOPICS: '5' }, async (b) => {
      const c = await b.client();
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) => c.request(ApiKey.CreateTopic, { name: `t${i}` })),
      );
      assert.equal(replies.filter((r) => r.errorCode === 0).length, 5);
      const refused = replies.filter((r) => r.errorCode !== 0);
      assert.ok(refused.every((r) => r.errorCode === ErrorCode.TOO_MANY_TOPICS));
      assert.match(refused[0]!.message, /limits\.maxTopics/);
      assert.equal(ok(await c.request(ApiKey.ListTopics, {})).topics.length, 5);
      const existing = replies.findIndex((r) => r.errorCode === 0);
      ok(await c.request(ApiKey.CreateTopic, { name: `t${existing}`, ifNotExists: true }));
      ok(await c.request(ApiKey.Produce, produceOf(`t${existing}`, ['still served'])));
    });
  });
});
