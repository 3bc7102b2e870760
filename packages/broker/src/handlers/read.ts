import { ApiKey } from '@barge/core';
import { principalName } from '../quotas/principal.js';
import type { QuotaManager } from '../quotas/quota-manager.js';
import type { ReadProxy } from '../read-proxy.js';
import type { HandlerTable } from './types.js';

/**
 * The read proxy: batch objects (or byte ranges of them) for consumers without storage
 * credentials. The data bytes count against the principal's read quota: the throttle time goes
 * into the response (v2) and the connection is not read for that long.
 */
export function readHandlers(proxy: ReadProxy, quotas: QuotaManager): HandlerTable {
  return {
    [ApiKey.ReadObject]: async (conn, body, _version, request) => {
      const res = await proxy.read(body, (bytes) => request.holdResponseBytes(bytes));
      const throttleTimeMs = quotas.record(principalName(conn), 'read', res.data.length);
      conn.throttle(throttleTimeMs);
      return { ...res, throttleTimeMs };
    },
  };
}
