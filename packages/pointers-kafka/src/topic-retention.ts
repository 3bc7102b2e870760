import kafkajs, { type Admin } from 'kafkajs';

// kafkajs is CommonJS: its enums are not named exports under ESM.
const { ConfigResourceTypes } = kafkajs;

/**
 * The pointer topic's `retention.ms` as Kafka applies it (the topic's own value, else the
 * broker default); `undefined` when it is `-1` (keep forever).
 */
export async function fetchRetentionMs(admin: Admin, kafkaTopic: string): Promise<number | undefined> {
  const res = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: kafkaTopic, configNames: ['retention.ms'] }],
  });
  const entry = res.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms');
  const ms = Number(entry?.configValue);
  return entry === undefined || !Number.isFinite(ms) || ms < 0 ? undefined : ms;
}
