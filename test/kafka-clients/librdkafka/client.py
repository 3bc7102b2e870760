"""librdkafka (through confluent-kafka) against a Kafka-protocol broker.

Produces N keyed records with an idempotent producer and the compression given, then reads
them back with a consumer group, committing as it goes. Prints one JSON line per record:
{"op": "produce"|"consume", "partition": P, "offset": O, "key": K, "value": V}, then one
{"op": "committed", "partition": P, "offset": O} line per partition the group committed. The
e2e test test/src/e2e/kafka-librdkafka.test.ts runs it against a Barge broker's Kafka listener.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def emit(**line):
    sys.stdout.write(json.dumps(line) + "\n")


def fail(message):
    sys.stderr.write(f"librdkafka client: {message}\n")
    sys.exit(1)


def produce(args, deadline):
    producer = Producer(
        {
            "bootstrap.servers": args.brokers,
            "enable.idempotence": True,
            "compression.type": args.compression,
            # Many records per batch, so each batch is worth compressing (librdkafka sends a
            # batch uncompressed when compressing does not make it smaller).
            "linger.ms": 20,
            "error_cb": lambda err: sys.stderr.write(f"producer error: {err}\n"),
        }
    )
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(err)
            return
        emit(
            op="produce",
            partition=msg.partition(),
            offset=msg.offset(),
            key=msg.key().decode(),
            value=msg.value().decode(),
        )

    # Repetitive values compress well with every codec.
    padding = " barge" * 20
    for i in range(args.n):
        producer.produce(
            args.topic,
            key=f"key-{i % args.keys}",
            value=f"value-{i}{padding}",
            on_delivery=delivered,
        )
        producer.poll(0)
    remaining = producer.flush(max(0.0, deadline - time.monotonic()))
    if remaining:
        fail(f"{remaining} records not delivered before the deadline")
    if errors:
        fail(f"produce: {errors[0]}")


def consume(args, deadline):
    consumer = Consumer(
        {
            "bootstrap.servers": args.brokers,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "error_cb": lambda err: sys.stderr.write(f"consumer error: {err}\n"),
        }
    )
    consumer.subscribe([args.topic])
    seen = 0
    partitions = set()
    try:
        while seen < args.n:
            if time.monotonic() > deadline:
                fail(f"consumed {seen} of {args.n} records before the deadline")
            msgs = consumer.consume(num_messages=500, timeout=1.0)
            for msg in msgs:
                if msg.error():
                    fail(f"fetch: {msg.error()}")
                seen += 1
                partitions.add(msg.partition())
                emit(
                    op="consume",
                    partition=msg.partition(),
                    offset=msg.offset(),
                    key=msg.key().decode(),
                    value=msg.value().decode(),
                )
            if msgs:
                consumer.commit(asynchronous=False)
        wanted = [TopicPartition(args.topic, p) for p in sorted(partitions)]
        for tp in consumer.committed(wanted, timeout=max(1.0, deadline - time.monotonic())):
            if tp.error:
                fail(f"committed {tp.partition}: {tp.error}")
            emit(op="committed", partition=tp.partition, offset=tp.offset)
    finally:
        consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--compression", default="lz4", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("-n", type=int, default=100, help="records to produce")
    parser.add_argument("--keys", type=int, default=10, help="distinct keys")
    parser.add_argument("--timeout", type=float, default=60.0, help="overall deadline, seconds")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    try:
        produce(args, deadline)
        consume(args, deadline)
    except KafkaException as e:
        fail(str(e))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
