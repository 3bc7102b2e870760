import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeObjectStorage } from '@barge/testkit';
import { createLocalStorage } from './index.js';

describeObjectStorage('local', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'barge-local-'));
  return {
    storage: await createLocalStorage({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
