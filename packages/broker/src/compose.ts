import {
  type AdapterContext,
  type BrokerConfig,
  createContainer,
  type DependencyContainer,
  type ModuleImporter,
  registerAdapters,
  resolveAdapters,
  TOKENS,
} from '@barge/core';
import { type Logger, pino } from 'pino';
import { Broker, type BrokerOptions } from './broker.js';

/** The broker's own DI token. */
export const BROKER_TOKEN = Symbol.for('barge.Broker');

export interface StartOptions {
  /** Loads adapter packages; pass `(s) => import(s)` from the package that depends on them. */
  importer?: ModuleImporter;
  logger?: Logger;
  options?: BrokerOptions;
  /** A container to register into (a child of tsyringe's root is created otherwise). */
  container?: DependencyContainer;
}

/**
 * The composition root used in production: registers the configured adapters in a tsyringe
 * container under core's tokens (`registerAdapters`, which validates each adapter's config
 * section), creates them (`resolveAdapters`), resolves the `Broker` and starts it.
 */
export async function startBrokerFromConfig(
  config: BrokerConfig,
  opts: StartOptions = {},
): Promise<{ broker: Broker; container: DependencyContainer }> {
  const logger = opts.logger ?? pino({ level: 'info' });
  const container = opts.container ?? createContainer();
  const importer: ModuleImporter = opts.importer ?? ((s) => import(s));
  container.registerInstance(TOKENS.config, config);
  container.registerInstance(TOKENS.logger, logger);
  const ctx: AdapterContext = {
    dataDir: config.broker.dataDir,
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  };
  await registerAdapters(container, { storage: config.storage, pointers: config.pointers }, ctx, importer);
  await resolveAdapters(container);
  container.register(BROKER_TOKEN, {
    useFactory: (c) =>
      new Broker(
        c.resolve<BrokerConfig>(TOKENS.config),
        c.resolve(TOKENS.storage),
        c.resolve(TOKENS.pointerQueue),
        c.resolve<Logger>(TOKENS.logger),
        opts.options,
      ),
  });
  const broker = container.resolve<Broker>(BROKER_TOKEN);
  try {
    await broker.start();
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  }
  return { broker, container };
}
