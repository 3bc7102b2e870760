import {
  type AdapterContext,
  type BrokerConfig,
  createContainer,
  type DependencyContainer,
  type ModuleImporter,
  registerAdapters,
  TOKENS,
} from '@barge/core';
import { type Logger, pino } from 'pino';
import { Broker, type BrokerOptions } from './broker.js';

export interface StartOptions {
  /** Loads adapter packages; pass `(s) => import(s)` from the package that depends on them. */
  importer?: ModuleImporter;
  logger?: Logger;
  options?: BrokerOptions;
  /** A container to register into (a child of tsyringe's root is created otherwise). */
  container?: DependencyContainer;
}

/** A started broker and what it runs on, for the program that started it. */
export interface RunningBroker {
  broker: Broker;
  /** Holds the configuration, logger and adapters under core's `TOKENS`. */
  container: DependencyContainer;
  /** One line for operators: where the batches and the pointers go. */
  describe(): string;
}

/**
 * The composition root used in production: creates the configured storage and pointer-queue
 * adapters (registered in a tsyringe container under core's tokens; each plugin validates its
 * own config section), creates the `Broker` on them and starts it.
 */
export async function startBrokerFromConfig(
  config: BrokerConfig,
  opts: StartOptions = {},
): Promise<RunningBroker> {
  const logger = opts.logger ?? pino({ level: 'info' });
  const container = opts.container ?? createContainer();
  container.registerInstance(TOKENS.config, config);
  container.registerInstance(TOKENS.logger, logger);
  const ctx: AdapterContext = {
    dataDir: config.broker.dataDir,
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  };
  const { storage, pointers } = await registerAdapters(
    container,
    { storage: config.storage, pointers: config.pointers },
    ctx,
    opts.importer ?? ((s) => import(s)),
  );
  const broker = new Broker(config, storage, pointers, logger, opts.options);
  try {
    await broker.start();
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  }
  return {
    broker,
    container,
    describe: () =>
      `${storage.adapter} storage ${storage.location}; ${pointers.adapter} pointers ${pointers.location}`,
  };
}
