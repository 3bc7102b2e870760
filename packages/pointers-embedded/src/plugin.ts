import { join } from 'node:path';
import type { AdapterContext, PointerQueuePlugin } from '@barge/core';
import { z } from 'zod';
import { EmbeddedPointerQueue } from './queue.js';

/** The `pointers:` config section of `adapter: embedded`. */
export const embeddedConfigSchema = z.strictObject({
  /** SQLite file. Default `<broker.dataDir>/pointers.sqlite`. */
  path: z.string().min(1).optional(),
});

export type EmbeddedPointerQueueConfig = z.output<typeof embeddedConfigSchema>;

/** Builds the queue from a validated config section and the adapter context. */
export function createEmbeddedPointerQueue(
  config: EmbeddedPointerQueueConfig,
  ctx: Pick<AdapterContext, 'dataDir'> & Partial<Pick<AdapterContext, 'log'>>,
): EmbeddedPointerQueue {
  return new EmbeddedPointerQueue({
    path: config.path ?? join(ctx.dataDir, 'pointers.sqlite'),
    ...(ctx.log ? { log: ctx.log } : {}),
  });
}

export const bargePlugin: PointerQueuePlugin<typeof embeddedConfigSchema> = {
  kind: 'pointers',
  name: 'embedded',
  coreApi: [1],
  configSchema: embeddedConfigSchema,
  create: (config, ctx) => createEmbeddedPointerQueue(config, ctx),
};
