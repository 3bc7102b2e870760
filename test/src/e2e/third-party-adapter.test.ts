import assert from 'node:assert/strict';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Consumer, Producer } from '@barge/client';
import * as brokerCore from '@barge/core';
import { type BrokerProcess, repoRoot, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage } from '../workload.js';

const PLUGIN = 'barge-storage-fs-plugin';
const TOPIC = 'plugin';
const TOTAL = 600;
const coreDir = join(repoRoot, 'packages', 'core');
const pluginModule = fileURLToPath(new URL('../fixtures/fs-storage-plugin.js', import.meta.url));

/**
 * A plugin package as npm lays it out when the plugin's `@barge/core` range does not dedupe with
 * the broker's: `<project>/node_modules/<plugin>/node_modules/@barge/core` is a copy of its own.
 * Core's dependencies (and the plugin's zod) are links to the repository's, as npm would hoist
 * them; the core copy itself is real files, so Node loads it as a second module instance.
 */
async function installPlugin(project: string): Promise<string> {
  const modules = join(project, 'node_modules');
  const pluginDir = join(modules, PLUGIN);
  const ownCore = join(pluginDir, 'node_modules', '@barge', 'core');
  await mkdir(ownCore, { recursive: true });
  await cp(join(coreDir, 'package.json'), join(ownCore, 'package.json'));
  await cp(join(coreDir, 'dist'), join(ownCore, 'dist'), { recursive: true });
  const manifest = JSON.parse(await readFile(join(coreDir, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
  };
  for (const dep of new Set(['zod', ...Object.keys(manifest.dependencies)])) {
    await mkdir(dirname(join(modules, dep)), { recursive: true });
    await symlink(join(repoRoot, 'node_modules', dep), join(modules, dep), 'dir');
  }
  await writeFile(
    join(pluginDir, 'package.json'),
    JSON.stringify({
      name: PLUGIN,
      version: '1.0.0',
      type: 'module',
      exports: { '.': { import: './index.js' } },
      dependencies: { '@barge/core': manifest.version, zod: '^4' },
    }),
  );
  await cp(pluginModule, join(pluginDir, 'index.js'));
  return ownCore;
}

describe('a third-party storage adapter with its own copy of @barge/core', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ownCore: string;
  let broker: BrokerProcess;

  before(async () => {
    // Outside the repository, so the plugin resolves only from the broker's working directory.
    dir = await tempDir('barge-third-party-');
    ownCore = await installPlugin(dir.path);
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { id: 3, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `storage: { adapter: ${PLUGIN}, root: ${JSON.stringify(join(dir.path, 'store'))} }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxBytes: 64KiB, maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config], {}, dir.path);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('is loaded from the working directory, with error classes that are not the broker core', async () => {
    assert.match(broker.logs(), /listening on \S+; fs-plugin storage /);
    const pluginCore = (await import(
      pathToFileURL(join(ownCore, 'dist', 'index.js')).href
    )) as typeof brokerCore;
    assert.notEqual(pluginCore.NotFoundError, brokerCore.NotFoundError);
  });

  it('takes produce requests and delivers every message to a consumer', async () => {
    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: 'third-party',
      clientId: 'c0',
      fromBeginning: true,
      autoCommitIntervalMs: 500,
    });
    const log = new DeliveryLog(TOTAL);
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    await log.consumeWith(consumer);
    try {
      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 5 });
      await producer.connect();
      try {
        const sends = [];
        for (let id = 0; id < TOTAL; id += 50) {
          const messages = Array.from({ length: 50 }, (_, i) =>
            makeMessage(id + i, 100 + ((id + i) % 7) * 150),
          );
          sends.push(producer.send({ topic: TOPIC, messages }));
        }
        await Promise.all(sends);
      } finally {
        await producer.disconnect();
      }
      await waitFor(
        `all ${TOTAL} messages`,
        () => log.delivered >= TOTAL || log.failures.length > 0,
        60_000,
        100,
      );
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(log.failures, []);
    assert.deepEqual(log.missing(), [], 'messages lost');
    assert.equal(log.delivered, TOTAL);
  });
});
