import { ApiKey } from '@barge/core';
import { principalName } from '../quotas/principal.js';
import type { QuotaManager } from '../quotas/quota-manager.js';
import type { ReadProxy } from '../read-proxy.js';
import type { HandlerTable } from './types.js';

/**
 * The read proxy: batch objects (or byte ranges of them) for consumers without storage
 * credentials. The data bytes count against the principal's read quota. A ReadObject is charged
 * the most it can carry when it is taken in, before anything is read (settled to what it carried
 * once served): past the quota, the connection stops being read at once, so requests a client
 * sent together wait their turn instead of passing as one burst. The throttle time left goes
 * into the response (v2).
 */
export function readHandlers(proxy: ReadProxy, quotas: QuotaManager): HandlerTable {
  return {
    [ApiKey.ReadObject]: async (conn, body, _version, request) => {
      const charge = quotas.charge(principalName(conn), 'read', proxy.mostBytes(body));
      const throttledUntil = Date.now() + charge.throttleMs;
      conn.throttle(charge.throttleMs);
      let carried = 0;
      try {
        const res = await proxy.read(body, (bytes) => request.holdResponseBytes(bytes));
        carried = res.data.length;
        // At least 1 ms when this request passed the quota: the client learns it is throttled.
        const left = charge.throttleMs > 0 ? Math.max(1, throttledUntil - Date.now()) : 0;
        return { ...res, throttleTimeMs: left };
      } finally {
        charge.settle(carried);
      }
    },
  };
}
