import type { AdapterContext, PointerQueuePlugin } from '@barge/core';
import { type KafkaPointersConfig, kafkaPointersConfigSchema } from './options.js';
import { KafkaPointerQueue } from './queue.js';

/** Creates the queue from an already validated config section (as the plugin loader does). */
export function createKafkaPointerQueue(
  config: KafkaPointersConfig,
  ctx?: Pick<AdapterContext, 'log'>,
): KafkaPointerQueue {
  return new KafkaPointerQueue({ ...config, ...(ctx ? { log: ctx.log } : {}) });
}

/** `pointers: { adapter: kafka, brokers: [...] }`. */
export const bargePlugin: PointerQueuePlugin<typeof kafkaPointersConfigSchema> = {
  kind: 'pointers',
  name: 'kafka',
  coreApi: [1],
  configSchema: kafkaPointersConfigSchema,
  create: (config, ctx) => createKafkaPointerQueue(config, ctx),
};
