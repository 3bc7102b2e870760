import { isAckLevel } from '@barge/core';
import type { AckLevel } from '../types.js';

/** kafkajs's `acks`: -1 all replicas, 1 the leader, 0 none. */
export type KafkaAcks = -1 | 0 | 1;

const FROM_KAFKA: Record<KafkaAcks, AckLevel> = { [-1]: 'durable', 1: 'received', 0: 'none' };

/**
 * The ack level `v` names: `none`, `received` or `durable`, or kafkajs's number (-1 → durable:
 * stored and its pointer published; 1 → received: in the broker's open batch; 0 → none).
 * Anything else throws the error `invalid` makes of the reason.
 */
export function toAckLevel(v: unknown, invalid: (why: string) => Error): AckLevel {
  if (isAckLevel(v)) return v;
  if (v === -1 || v === 0 || v === 1) return FROM_KAFKA[v];
  throw invalid(`acks must be none, received or durable (or kafkajs's -1, 1, 0), got ${JSON.stringify(v)}`);
}
