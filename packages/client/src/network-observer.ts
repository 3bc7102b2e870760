import type { ConnectionObserver } from './connection.js';
import type { Instrumentation, NetworkEventPayloads, Prefixed } from './instrumentation.js';
import type { Logger } from './logger.js';

/**
 * The connection observer of a client: requests and request timeouts become the client's
 * `<prefix>.network.*` events, connections and timeouts are logged.
 */
export function networkObserver<P extends string>(
  events: Instrumentation<Prefixed<P, NetworkEventPayloads>>,
  prefix: P,
  log: Logger,
): ConnectionObserver {
  const emit = events.emit.bind(events) as (type: string, payload: unknown) => void;
  const connection = log.namespace('Connection');
  return {
    request: (e) => emit(`${prefix}.network.request`, e),
    requestTimeout: (e) => {
      connection.warn(`${e.apiName} request to broker ${e.broker} timed out after ${e.timeoutMs} ms`, {
        broker: e.broker,
        apiName: e.apiName,
        correlationId: e.correlationId,
      });
      emit(`${prefix}.network.request_timeout`, e);
    },
    throttled: (e) => {
      connection.debug(
        `${e.apiName} response from broker ${e.broker} asks to wait ${e.throttleTimeMs} ms (quota); holding requests`,
        { broker: e.broker, apiName: e.apiName, throttleTimeMs: e.throttleTimeMs },
      );
      emit(`${prefix}.network.throttle`, e);
    },
    connected: (broker) => connection.info(`connected to broker ${broker}`, { broker }),
    disconnected: (broker, outstanding) =>
      connection.warn(`connection to broker ${broker} closed with ${outstanding} requests outstanding`, {
        broker,
        outstanding,
      }),
  };
}
