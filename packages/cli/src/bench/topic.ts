import { ApiKey, type TopicInfo } from '@barge/core';
import { withConnection } from '../connect.js';
import { CliError } from '../fail.js';

/** Write and read partitions of a topic the benchmark creates when `--partitions` is not given. */
export const DEFAULT_PARTITIONS = 4;

export interface PreparedTopic {
  readonly info: TopicInfo;
  /** High watermark (next pointer offset) of every read partition, before the run. */
  readonly ends: ReadonlyMap<number, number>;
}

/**
 * The benchmark's topic, described. With `create`, a missing topic is created with `partitions`
 * write and read partitions (default 4); an existing one is used as it is, unless `--partitions`
 * asked for other counts. This also fails fast, in one line, when the broker is unreachable.
 */
export async function prepareTopic(
  address: string,
  name: string,
  partitions: number | undefined,
  create: boolean,
): Promise<PreparedTopic> {
  return withConnection(address, async (c) => {
    const { topics } = await c.request(ApiKey.ListTopics, {});
    const existing = topics.find((t) => t.name === name);
    if (!existing) {
      if (!create) throw new CliError(`topic ${name} does not exist (produce to it first)`, 2);
      const n = partitions ?? DEFAULT_PARTITIONS;
      await c.request(ApiKey.CreateTopic, {
        name,
        writePartitions: n,
        readPartitions: n,
        batch: {},
        ifNotExists: true,
      });
    } else if (
      partitions !== undefined &&
      (existing.writePartitions !== partitions || existing.readPartitions !== partitions)
    ) {
      throw new CliError(
        `--partitions ${partitions}: topic ${name} already exists with ${existing.writePartitions} write and ${existing.readPartitions} read partitions`,
        2,
      );
    }
    const described = await c.request(ApiKey.DescribeTopic, { name });
    return { info: described.topic, ends: new Map(described.partitions.map((p) => [p.partition, p.high])) };
  });
}
