import { ANONYMOUS } from '@barge/core';
import type { Connection } from '../server/connection.js';

/** The name quotas count a connection's requests under (`ANONYMOUS` before authentication). */
export function principalName(conn: Pick<Connection, 'principal'>): string {
  return (conn.principal ?? ANONYMOUS).name;
}
