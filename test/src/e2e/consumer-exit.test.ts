import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, repoRoot, runCli, startBroker, tempDir } from '../harness.js';

/**
 * A program that reads `n` messages with the consumer's iterator, breaks out of the loop and
 * disconnects. When the loop stops, the batches after the last message are still being read
 * (prefetched); disconnecting closes the connection under them.
 */
const READER = `
import { Consumer } from '@barge/client';
const [broker, topic, n] = process.argv.slice(1);
const consumer = new Consumer({ brokers: [broker], groupId: 'exit-' + n, fromBeginning: true });
await consumer.connect();
await consumer.subscribe({ topic });
let seen = 0;
for await (const m of consumer) if (++seen >= Number(n)) break;
await consumer.disconnect();
process.stdout.write('disconnected after ' + seen + '\\n');
`;

/** Runs READER; resolves with the ms from its "disconnected" line to its exit. */
function lingerAfterDisconnect(broker: string, topic: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', READER, broker, topic, String(n)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let disconnectedAt: number | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (disconnectedAt === undefined && out.includes('disconnected')) disconnectedAt = Date.now();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 || disconnectedAt === undefined) {
        reject(new Error(`the reader exited with ${code}:\n${out}${err}`));
        return;
      }
      assert.match(out, new RegExp(`disconnected after ${n}\\n`));
      resolve(Date.now() - disconnectedAt);
    });
  });
}

describe('a consumer that disconnects with batches still being read', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;

  before(async () => {
    dir = await tempDir();
    broker = await startBroker(['--data', join(dir.path, 'data')]);
    const b = ['--broker', broker.address];
    const created = await runCli(['topics', 'create', 'prefetched', '--max-messages', '20', ...b]);
    assert.equal(created.code, 0, created.stderr);
    // Batches of 20 messages of 200 KB: reading one takes a moment.
    const value = 'x'.repeat(200_000);
    const input = Array.from({ length: 100 }, (_, i) => `${i}${value}`).join('\n');
    const produced = await runCli(['produce', '--topic', 'prefetched', ...b], { stdin: `${input}\n` });
    assert.equal(produced.code, 0, produced.stderr);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('lets its process exit at once: reads in flight are not retried after disconnect', async () => {
    for (const n of [1, 21, 41]) {
      const ms = await lingerAfterDisconnect(broker.address, 'prefetched', n);
      assert.ok(ms < 3_000, `the process lived ${ms} ms after disconnect() (stopped after ${n} messages)`);
    }
  });
});
