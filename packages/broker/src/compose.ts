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
import { checkExposure } from './exposure.js';
import { retryStartupStep, startupRetryPolicy } from './startup-retry.js';

export interface StartOptions {
  /** Loads adapter packages; pass `(s) => import(s)` from the package that depends on them. */
  importer?: ModuleImporter;
  logger?: Logger;
  options?: BrokerOptions;
  /** A container to register into (a child of tsyringe's root is created otherwise). */
  container?: DependencyContainer;
  /** Aborting it (e.g. on SIGTERM) ends start-up retries at once: the start fails. */
  signal?: AbortSignal;
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
  // Before any adapter connects: an exposed broker without authentication must not start at all.
  checkExposure(config);
  const logger = opts.logger ?? pino({ level: 'info' });
  const container = opts.container ?? createContainer();
  container.registerInstance(TOKENS.config, config);
  container.registerInstance(TOKENS.logger, logger);
  const ctx: AdapterContext = {
    dataDir: config.broker.dataDir,
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  };
  // One start-up deadline for opening the adapters (e.g. a busy or full SQLite file) and loading topics.
  const deadline = Date.now() + (opts.options?.startupTimeoutMs ?? config.broker.startupTimeoutMs);
  const { storage, pointers } = await retryStartupStep(
    `open the ${config.storage.adapter} storage and the ${config.pointers.adapter} pointer queue`,
    () =>
      registerAdapters(
        container,
        { storage: config.storage, pointers: config.pointers },
        ctx,
        opts.importer ?? ((s) => import(s)),
      ),
    startupRetryPolicy(config, logger, deadline, opts.signal),
  );
  const broker = new Broker(config, storage, pointers, logger, opts.options);
  const stopOnAbort = () => void broker.stop();
  opts.signal?.addEventListener('abort', stopOnAbort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    await broker.start(deadline);
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', stopOnAbort);
  }
  return {
    broker,
    container,
    describe: () =>
      `${storage.adapter} storage ${storage.location}; ${pointers.adapter} pointers ${pointers.location}`,
  };
}
