// Command franz produces records with franz-go (an idempotent producer by default) to a topic,
// then reads them back with a consumer group, printing one JSON line per record:
// {"op":"produce"|"consume","partition":P,"offset":O,"key":K,"value":V}. The e2e test
// test/src/e2e/kafka-franz.test.ts runs it against a Barge broker's Kafka listener.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type line struct {
	Op        string `json:"op"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	topic := flag.String("topic", "", "topic to produce to and consume from")
	group := flag.String("group", "", "consumer group")
	n := flag.Int("n", 100, "records to produce")
	keys := flag.Int("keys", 10, "distinct keys")
	timeout := flag.Duration("timeout", 60*time.Second, "overall deadline")
	flag.Parse()
	if *topic == "" || *group == "" {
		fail("-topic and -group are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	seeds := strings.Split(*brokers, ",")

	producer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(*topic))
	if err != nil {
		fail("producer: %v", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var produceErr error
	for i := 0; i < *n; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", i%*keys)), Value: []byte(fmt.Sprintf("value-%d", i))}
		wg.Add(1)
		producer.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				produceErr = err
				return
			}
			_ = out.Encode(line{"produce", r.Partition, r.Offset, string(r.Key), string(r.Value)})
		})
	}
	wg.Wait()
	producer.Close()
	if produceErr != nil {
		fail("produce: %v", produceErr)
	}

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		fail("consumer: %v", err)
	}
	defer consumer.Close()
	for seen := 0; seen < *n; {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("consumed %d of %d records before the deadline", seen, *n)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fail("fetch %s/%d: %v", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			seen++
			_ = out.Encode(line{"consume", r.Partition, r.Offset, string(r.Key), string(r.Value)})
		})
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			fail("commit: %v", err)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "franz: "+format+"\n", args...)
	os.Exit(1)
}
