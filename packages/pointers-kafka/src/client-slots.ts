import type { Admin, Producer } from 'kafkajs';

/** The queue's shared idempotent producer, and how many sends use it. */
export interface ProducerSlot {
  producer: Producer;
  connected: Promise<void>;
  inFlight: number;
  /** Replaced: disconnected once its in-flight sends end. */
  retired: boolean;
}

/** The queue's shared admin client. */
export interface AdminSlot {
  admin: Admin;
  connected: Promise<void>;
}
