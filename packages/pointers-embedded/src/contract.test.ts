import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePointerQueue } from '@barge/testkit';
import { EmbeddedPointerQueue } from './queue.js';

describePointerQueue(
  'embedded',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'barge-pointers-'));
    const path = join(dir, 'pointers.sqlite');
    return {
      queue: new EmbeddedPointerQueue({ path }),
      reopen: async () => new EmbeddedPointerQueue({ path }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { capabilities: { reopen: true }, waitTimeoutMs: 10_000, testTimeoutMs: 60_000 },
);
