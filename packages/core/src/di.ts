// tsyringe needs the Reflect metadata polyfill loaded before it is imported; this module is the
// one place that does it. Tokens are explicit symbols: no decorator metadata is relied on.
import 'reflect-metadata';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import type { BrokerConfig } from './config.js';
import type { PointerQueue } from './pointer-queue.js';
import type { ObjectStorage } from './storage.js';

export const TOKENS = {
  config: Symbol.for('barge.config'),
  storage: Symbol.for('barge.ObjectStorage'),
  pointerQueue: Symbol.for('barge.PointerQueue'),
  logger: Symbol.for('barge.logger'),
} as const;

export interface TokenTypes {
  [TOKENS.config]: BrokerConfig;
  [TOKENS.storage]: ObjectStorage;
  [TOKENS.pointerQueue]: PointerQueue;
}

/** A child of tsyringe's root container, so tests and production each get their own. */
export function createContainer(): DependencyContainer {
  return rootContainer.createChildContainer();
}

export type { DependencyContainer };
