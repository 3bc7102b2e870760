/** Help texts of the metrics added for operations (issue 13), kept here so `BrokerMetrics` reads as a list. */
export const HELP = {
  batchBytes: 'Chunk bytes in one closed batch (its object adds a small header)',
  batchMessages: 'Messages in one closed batch',
  chunkBytes: 'Bytes of one chunk taken in by a produce request',
  storagePut:
    'Time of one successful PUT of a batch object (one attempt; a hedge is its own PUT), by storage adapter',
  pointerQueuePublish:
    'Time of one successful pointer publish call (the calls of barge_pointer_publish_seconds), by pointer queue adapter',
  readProxyBytes: 'Data bytes in one ReadObject response of the read proxy',
  readProxy: 'Time the read proxy took to read one ReadObject range from storage (size lookup included)',
  request:
    'Time from a request frame to its response (Produce acks=durable: the durable ack; acks=none: intake), errors included, by api',
  retentionObjects:
    'Batch objects deleted by retention (older or beyond the size limit, and no longer reachable by a pointer), by topic',
  retentionBytes: 'Bytes of the batch objects deleted by retention, by topic',
  collectedObjects:
    'Orphan objects (referenced by no pointer: publication given up, hedge losers, crashes, abandoned uploads) deleted after the grace period, by topic',
  collectedBytes: 'Bytes of the orphan objects deleted, by topic',
  orphanObjects: 'Orphan objects found by the last sweep and still within their grace period, by topic',
  orphanBytes: 'Bytes of the orphan objects found by the last sweep and not yet deleted, by topic',
} as const;
