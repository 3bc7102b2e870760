import { EventEmitter } from 'node:events';
import { errorMessage, InvalidInputError } from '@barge/core';
import type { Logger } from './logger.js';

/** What an instrumentation listener receives (kafkajs's shape). */
export interface InstrumentationEvent<P> {
  /** Increases by one per event of the emitting client. */
  id: number;
  /** The event name, e.g. `producer.connect`. */
  type: string;
  /** ms since the epoch. */
  timestamp: number;
  payload: P;
}

/** Removes the listener `on` added. */
export type RemoveInstrumentationEventListener = () => void;

/** Payload of `*.network.request`: one request answered by the broker (successfully or with an error code). */
export interface RequestEventPayload {
  /** `host:port` */
  broker: string;
  clientId: string;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  correlationId: number;
  /** When the request was made (ms since the epoch); it may wait for the connection first. */
  createdAt: number;
  /** When it was written to the socket. */
  sentAt: number;
  /** `sentAt − createdAt`. */
  pendingDuration: number;
  /** From `sentAt` to the response (to the write for requests without a response). */
  duration: number;
  /** Response bytes (0 for requests without a response). */
  size: number;
}

/** Payload of `*.network.request_timeout`: no response within the request timeout. */
export type RequestTimeoutEventPayload = Omit<RequestEventPayload, 'duration' | 'size'> & {
  timeoutMs: number;
};

/**
 * Payload of `*.network.throttle`: a response carried a quota throttle time (the broker's
 * `security.quotas` byte rates): this client sends nothing more to that broker for `throttleTimeMs`.
 */
export interface ThrottleEventPayload {
  broker: string;
  clientId: string;
  apiName: string;
  throttleTimeMs: number;
}

/** The network events every client has, named under its prefix (`producer.`, `consumer.`, `admin.`). */
export interface NetworkEventPayloads {
  /** `broker`: the address connected to (undefined for a consumer reading pointers and batches directly). */
  connect: { brokers: readonly string[]; broker: string | undefined };
  disconnect: Record<string, never>;
  'network.request': RequestEventPayload;
  'network.request_timeout': RequestTimeoutEventPayload;
  'network.throttle': ThrottleEventPayload;
}

/** `producer.connect` etc.: the event names of a client with the payloads `P`. */
export type Prefixed<Prefix extends string, P> = { [K in keyof P & string as `${Prefix}.${K}`]: P[K] };

/**
 * A client's instrumentation events (kafkajs style): `on(type, listener)` returns a function that
 * removes the listener. A listener that throws is logged and does not disturb the client.
 */
export class Instrumentation<Payloads extends Record<string, unknown>> {
  readonly #emitter = new EventEmitter();
  readonly #types: ReadonlySet<string>;
  readonly #log: Logger;
  #nextId = 0;

  constructor(types: Record<string, string>, log: Logger) {
    this.#types = new Set(Object.values(types));
    this.#log = log;
    this.#emitter.setMaxListeners(0);
  }

  /** Whether `type` is one of this client's event names. */
  has(type: unknown): boolean {
    return typeof type === 'string' && this.#types.has(type);
  }

  on<E extends keyof Payloads & string>(
    type: E,
    listener: (event: InstrumentationEvent<Payloads[E]>) => void,
  ): RemoveInstrumentationEventListener {
    if (!this.has(type))
      throw new InvalidInputError(
        `unknown event ${JSON.stringify(type)}; the events are ${[...this.#types].join(', ')}`,
      );
    if (typeof listener !== 'function')
      throw new InvalidInputError(`the listener of ${type} must be a function`);
    const wrapped = (event: InstrumentationEvent<Payloads[E]>) => {
      try {
        const r = listener(event) as unknown;
        if (r instanceof Promise) r.catch((e) => this.#listenerFailed(type, e));
      } catch (e) {
        this.#listenerFailed(type, e);
      }
    };
    this.#emitter.on(type, wrapped);
    return () => {
      this.#emitter.off(type, wrapped);
    };
  }

  emit<E extends keyof Payloads & string>(type: E, payload: Payloads[E]): void {
    if (this.#emitter.listenerCount(type) === 0) return;
    this.#emitter.emit(type, { id: this.#nextId++, type, timestamp: Date.now(), payload });
  }

  #listenerFailed(type: string, e: unknown): void {
    this.#log.error(`a listener of ${type} failed`, { error: errorMessage(e) });
  }
}

/** Event names as constants: `producer.events.CONNECT` is `'producer.connect'` (kafkajs style). */
export function eventNames<const Prefix extends string, const Keys extends Record<string, string>>(
  prefix: Prefix,
  keys: Keys,
): { readonly [K in keyof Keys]: `${Prefix}.${Keys[K]}` } {
  return Object.freeze(
    Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, `${prefix}.${v}`])),
  ) as never;
}
