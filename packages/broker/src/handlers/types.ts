import type { ApiKey, RequestTypes, ResponseTypes } from '@barge/core';
import type { Connection, RequestScope } from '../server/connection.js';

/** Answers one request of api `K`; a thrown or rejected error becomes an error response. */
export type Handler<K extends ApiKey> = (
  conn: Connection,
  body: RequestTypes[K],
  version: number,
  request: RequestScope,
) => Promise<ResponseTypes[K]> | ResponseTypes[K];

/** Handlers by api key; Produce has its own handler (it answers at its ack level). */
export type HandlerTable = { [K in Exclude<ApiKey, typeof ApiKey.Produce>]?: Handler<K> };
