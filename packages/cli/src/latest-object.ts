import { BATCH_PREFIX } from '@barge/broker';
import { listAll, type ObjectStorage } from '@barge/core';
import { CliError } from './fail.js';

/**
 * The key of the newest batch object of `topic` (of one write partition when given): the last
 * key of each write partition (keys list in sequence order), then the most recently stored of
 * those. Lists the partitions' keys, so its cost grows with the number of objects kept.
 */
export async function latestBatchKey(
  storage: ObjectStorage,
  topic: string,
  writePartition?: number,
): Promise<string> {
  const prefix = `${BATCH_PREFIX}${topic}/${writePartition === undefined ? '' : `${writePartition}/`}`;
  const lastByPartition = new Map<string, string>();
  for await (const { key } of listAll(storage, prefix)) {
    const partition = key.slice(prefix.length).split('/')[0] ?? '';
    lastByPartition.set(writePartition === undefined ? partition : String(writePartition), key);
  }
  const where =
    writePartition === undefined ? `topic ${topic}` : `write partition ${writePartition} of topic ${topic}`;
  if (lastByPartition.size === 0) {
    throw new CliError(
      `no batch objects for ${where} in ${storage.adapter} storage ${storage.location} (is the topic's data stored there?)`,
    );
  }
  const candidates = await Promise.all(
    [...lastByPartition.values()].map(async (key) => ({
      key,
      at: (await storage.head(key)).lastModified?.getTime() ?? 0,
    })),
  );
  return candidates.reduce((newest, c) => (c.at >= newest.at ? c : newest)).key;
}
