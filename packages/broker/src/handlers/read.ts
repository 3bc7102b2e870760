import { ApiKey } from '@barge/core';
import type { ReadProxy } from '../read-proxy.js';
import type { HandlerTable } from './types.js';

/** The read proxy: batch objects (or byte ranges of them) for consumers without storage credentials. */
export function readHandlers(proxy: ReadProxy): HandlerTable {
  return {
    [ApiKey.ReadObject]: (_conn, body, _version, request) =>
      proxy.read(body, (bytes) => request.holdResponseBytes(bytes)),
  };
}
