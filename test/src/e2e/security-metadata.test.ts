import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../harness.js';

/**
 * `barge users` and `barge acls` runs at the same moment on one storage: each is a
 * compare-and-swap of its document, so no run loses another's change (last writer wins would).
 */
describe('concurrent barge users and barge acls runs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('barge-security-meta-');
  });
  after(async () => {
    await dir?.remove();
  });

  const RUNS = 6;

  it('keep every user added', async () => {
    const data = join(dir.path, 'users');
    const names = Array.from({ length: RUNS }, (_, i) => `user-${i}`);
    const runs = await Promise.all(
      names.map((n) =>
        runCli(['users', 'add', n, '--mechanism', 'SCRAM-SHA-256', '--data', data], { stdin: `pw-${n}\n` }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const list = await runCli(['users', 'list', '--format', 'json', '--data', data]);
    assert.equal(list.code, 0, list.stderr);
    const listed = (JSON.parse(list.stdout.toString()) as { name: string }[]).map((u) => u.name).sort();
    assert.deepEqual(listed, names);
  });

  it('keep every ACL added', async () => {
    const data = join(dir.path, 'acls');
    const topics = Array.from({ length: RUNS }, (_, i) => `topic-${i}`);
    const runs = await Promise.all(
      topics.map((t) =>
        runCli(['acls', 'add', '--principal', 'alice', '--operation', 'read', '--topic', t, '--data', data]),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const list = await runCli(['acls', 'list', '--format', 'json', '--data', data]);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.stringify(JSON.parse(list.stdout.toString()));
    for (const t of topics) assert.match(listed, new RegExp(`"${t}"`), `the ACL on ${t} was lost`);
  });
});
