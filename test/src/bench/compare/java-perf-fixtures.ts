/**
 * Real stdout of Kafka 4.1.2's perf tools, captured on the 2-core test VM (2026-12-03, against the
 * test Kafka of scripts/services.sh, loaded by other work), for the parser tests:
 *   java -cp '.cache/services/kafka-4.1.2/libs/*' org.apache.kafka.tools.ProducerPerformance --topic T
 *     --num-records 300000 --record-size 1024 --throughput -1
 *     --producer-props bootstrap.servers=127.0.0.1:9092 acks=all linger.ms=5 batch.size=1048576
 *   ... ConsumerPerformance --bootstrap-server 127.0.0.1:9092 --topic T --messages N --group G --timeout MS
 */

/** 300,000 x 1 KiB: four progress lines, then the summary. */
export const PRODUCER_1KIB = `26191 records sent, 5213.2 records/sec (5.09 MB/sec), 611.0 ms avg latency, 1752.0 ms max latency.
103402 records sent, 20573.4 records/sec (20.09 MB/sec), 1677.5 ms avg latency, 2923.0 ms max latency.
65888 records sent, 13003.4 records/sec (12.70 MB/sec), 2207.6 ms avg latency, 3699.0 ms max latency.
97425 records sent, 19469.4 records/sec (19.01 MB/sec), 1878.9 ms avg latency, 3785.0 ms max latency.
300000 records sent, 14723.9 records/sec (14.38 MB/sec), 1759.22 ms avg latency, 3785.00 ms max latency, 1669 ms 50th, 3050 ms 95th, 3538 ms 99th, 3687 ms 99.9th.
`;

/** 100,000 x 100 B: finished within the first reporting interval, so only the summary. */
export const PRODUCER_100B = `100000 records sent, 57175.5 records/sec (5.45 MB/sec), 107.92 ms avg latency, 861.00 ms max latency, 120 ms 50th, 204 ms 95th, 222 ms 99th, 227 ms 99.9th.
`;

/** --messages 300000 on a topic holding 300,000. */
export const CONSUMER_COMPLETE = `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-12-03 09:34:56:691, 2026-12-03 09:35:02:165, 204.8492, 37.4222, 300000, 54804.5305, 890, 4584, 44.6879, 65445.0262
`;

/** --messages 900000 --timeout 3000 on a topic holding 600,000: the tool warns and still reports. */
export const CONSUMER_TIMED_OUT = `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
WARNING: Exiting before consuming the expected number of messages: timeout (3000 ms) exceeded. You can use the --timeout option to increase the timeout.
2026-12-03 09:35:37:778, 2026-12-03 09:35:53:087, 497.8180, 32.5180, 600000, 39192.6318, 1081, 14228, 34.9886, 42170.3683
`;
