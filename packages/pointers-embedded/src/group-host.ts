import type { Notifier } from './notifier.js';
import type { PointerStore } from './store.js';

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** What a group needs from the queue that hosts it. */
export interface GroupHost {
  readonly store: PointerStore;
  /** Notified after every publish to `topic`. */
  topicNotifier(topic: string): Notifier;
  /** Resolves once every write made so far is durable. */
  durable(): Promise<void>;
  /** Throws if the queue is closed. */
  assertOpen(): void;
  readonly log: LogFn;
}
