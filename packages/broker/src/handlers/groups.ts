import { ApiKey } from '@barge/core';
import type { GroupCoordinator } from '../groups.js';
import type { HandlerTable } from './types.js';

/** Consumer groups of the pointer queue, served by the broker: membership, pointers, offsets. */
export function groupHandlers(groups: GroupCoordinator, maxFetchBytes: number): HandlerTable {
  return {
    [ApiKey.JoinGroup]: (conn, body, version) => groups.join(conn, body, version),
    [ApiKey.Heartbeat]: (_conn, body) => groups.heartbeat(body.memberId, body.released),
    [ApiKey.LeaveGroup]: async (_conn, body) => {
      await groups.leave(body.memberId);
      return {};
    },
    [ApiKey.FetchPointers]: (_conn, body) =>
      groups.fetch(body.memberId, body.maxRecords, body.maxWaitMs, maxFetchBytes),
    [ApiKey.CommitOffsets]: async (_conn, body) => {
      await groups.commit(body.memberId, body.positions);
      return {};
    },
    [ApiKey.FetchCommitted]: (_conn, body) => groups.committed(body.memberId, body.partitions),
    [ApiKey.Seek]: async (_conn, body) => {
      await groups.seek(body.memberId, body.partition, body.offset);
      return {};
    },
  };
}
