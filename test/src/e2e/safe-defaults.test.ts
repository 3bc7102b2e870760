import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startBroker, tempDir } from '../harness.js';

describe('barge broker on a non-loopback address', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('barge-exposure-');
  });
  after(async () => {
    await dir?.remove();
  });

  it('refuses to start without authentication, says why, and touches no storage', async () => {
    const data = join(dir.path, 'refused');
    const run = await runCli(['broker', '--listen', '0.0.0.0:0', '--data', data], { timeoutMs: 30_000 });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /refusing to listen on 0\.0\.0\.0:0 without authentication/);
    assert.match(run.stderr, /security\.allowAnonymous: true/);
    assert.doesNotMatch(run.stdout.toString(), /listening on/);
    assert.equal(existsSync(data), false, 'the data directory was created');
  });

  it('starts when the config sets security.allowAnonymous: true', async () => {
    const config = join(dir.path, 'open.yaml');
    await writeFile(
      config,
      `broker: { dataDir: ${JSON.stringify(join(dir.path, 'open'))} }\nsecurity: { allowAnonymous: true }\n`,
    );
    const broker = await startBroker(['--config', config, '--listen', '0.0.0.0:0']);
    try {
      assert.match(broker.address, /:\d+$/);
    } finally {
      await broker.kill();
    }
  });
});
