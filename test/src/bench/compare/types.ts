/** The data of one `test/bench/compare` run: what each system measured, per value size. */

export const SYSTEMS = ['barge-embedded', 'barge-kafka', 'barge-s3-kafka', 'kafka-java', 'kafkajs'] as const;
export type SystemId = (typeof SYSTEMS)[number];

export const SYSTEM_LABELS: Record<SystemId, string> = {
  'barge-embedded': 'Barge embedded (local + SQLite)',
  'barge-kafka': 'Barge local + Kafka pointers',
  'barge-s3-kafka': 'Barge S3 (moto) + Kafka pointers',
  'kafka-java': 'Kafka Java perf tools',
  kafkajs: 'kafkajs 2.2.4 batched',
};

export const isBarge = (s: SystemId) => s.startsWith('barge-');

/** Latency quantiles in milliseconds. */
export interface Quantiles {
  p50: number;
  p99: number;
  p999?: number;
  max?: number;
  avg?: number;
}

/** One produce run. MB = 10^6 bytes of message payload (values, plus keys where a system sends any). */
export interface ProduceMeasure {
  messages: number;
  bytes: number;
  seconds: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  /** Send-to-ack latency (per `send()` for Barge, per record for the Java producer, per sendBatch for kafkajs). */
  ackMs: Quantiles | null;
  /** CPU seconds of the broker process per GB produced (Barge's broker, or the Kafka JVM). */
  brokerCpuSecondsPerGB: number | null;
  /** Peak resident set of the broker process in MiB (the Kafka JVM: its high-water mark since it started). */
  brokerPeakRssMiB: number | null;
  /** CPU seconds per GB of the test services the system leans on (Kafka and moto under Barge). */
  serviceCpuSecondsPerGB: Partial<Record<'kafka' | 'moto', number>>;
  /** Target rate asked for (messages/s), when the run was rate-limited. */
  rate?: number;
  /** The system's own output (a `barge bench` JSON summary, a tool's summary line). */
  raw: unknown;
}

export interface ConsumeMeasure {
  messages: number;
  bytes: number;
  seconds: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  brokerCpuSecondsPerGB: number | null;
  brokerPeakRssMiB: number | null;
  raw: unknown;
}

/** One system at one value size, on a freshly started system process. */
export interface Cell {
  system: SystemId;
  size: number;
  startedAt: string;
  loadAverage: number[];
  produce?: ProduceMeasure;
  /** Through the broker (its consumer groups and read proxy). */
  consume?: ConsumeMeasure;
  /** Barge only: pointers through the broker, batch objects read straight from storage. */
  consumeDirect?: ConsumeMeasure;
  /** Embedded default only: a produce at half the measured peak rate (the ack latency target). */
  halfRate?: ProduceMeasure;
  /** What went wrong, when the cell did not complete; the run goes on with the next cell. */
  error?: string;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  java: string;
  kafka: string;
}

export interface Settings {
  sizes: number[];
  systems: SystemId[];
  /** Payload MB per cell, by value size. */
  mbPerSize: Record<string, number>;
  messagesPerSize: Record<string, number>;
  partitions: number;
  compression: 'none';
  /** The Barge broker's settings that the targets refer to. */
  barge: { maxDelayMs: number; inFlightBytes: number; acks: 'durable' };
  kafkaProducer: Record<string, string>;
  kafkajs: { batchMessages: number; acks: number };
}

export interface CompareRun {
  /** The command line that measured it. */
  command?: string;
  startedAt: string;
  finishedAt: string;
  loadAverage: { start: number[]; end: number[] };
  machine: Machine;
  settings: Settings;
  cells: Cell[];
}
