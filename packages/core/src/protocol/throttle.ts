import type { Reader, Writer } from './wire.js';

/**
 * Version 2 of Produce and ReadObject responses (`docs/protocol.md` §6.20): the v1 body, then
 * `u32 throttleTimeMs`, how long the client should wait before sending more to this broker
 * because its principal passed a byte-rate quota (`security.quotas`). 0 = not throttled. The
 * broker also stops reading the connection for that long, so a client that ignores it (or
 * speaks v1) is held back all the same, as Kafka does since KIP-219.
 */
export interface Throttled {
  /** v2: ms the client should wait before its next request to this broker; absent in v1. */
  throttleTimeMs?: number;
}

interface Codec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

/** The v2 codec of a response body: the v1 body, then `throttleTimeMs`. */
export function withThrottleTime<T extends Throttled>(v1: Codec<T>): Codec<T> {
  return {
    write: (w, v) => {
      v1.write(w, v);
      w.u32(v.throttleTimeMs ?? 0, 'throttleTimeMs');
    },
    read: (r) => ({ ...v1.read(r), throttleTimeMs: r.u32('throttleTimeMs') }),
  };
}
