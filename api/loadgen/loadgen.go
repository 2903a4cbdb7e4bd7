// Package loadgen drives any Kinesis endpoint through the AWS SDK for Go v2
// and measures it: put throughput, throttling, consumption and put→get
// latency. It backs `shardscope bench`, so shardscope and other emulators
// can be compared with the same client in the same run.
package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Config says what load to drive.
type Config struct {
	Endpoint  string        // e.g. http://127.0.0.1:4567
	Region    string        // default us-east-1
	Stream    string        // default bench-<unix nanos>; created and deleted
	Shards    int           // default 4
	Producers int           // concurrent PutRecords loops; default 4
	Batch     int           // records per PutRecords; default 100
	Size      int           // data bytes per record (≥ 8); default 100
	Duration  time.Duration // how long producers run; default 10s
	Consumers int           // polling readers, each over every shard; default 1
	// Poll is how often a consumer polls each shard; default 10ms.
	Poll time.Duration
}

func (c *Config) fill() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Stream == "" {
		c.Stream = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	}
	if c.Shards <= 0 {
		c.Shards = 4
	}
	if c.Producers <= 0 {
		c.Producers = 4
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Size == 0 {
		c.Size = 100
	}
	c.Size = max(c.Size, 8)
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Consumers < 0 {
		c.Consumers = 0
	}
	if c.Poll <= 0 {
		c.Poll = 10 * time.Millisecond
	}
}

// Result is what a run measured.
type Result struct {
	Elapsed   time.Duration
	Put       int64 // records acknowledged
	PutBytes  int64 // data bytes acknowledged
	Throttled int64 // records rejected with ProvisionedThroughputExceededException
	Errors    int64 // failed calls and other per-record failures
	// Reconnects counts calls lost to a connection the client's own
	// transport closed under them ("use of closed network connection",
	// aws/aws-sdk-go-v2#2737). The SDK's default retryer retries those; the
	// bench, which retries nothing so that throttling shows, counts them here
	// instead of as errors and goes on.
	Reconnects  int64
	Consumed    int64 // records read (summed over consumers)
	ConsumeTime time.Duration
	P50, P99    time.Duration // put start → record read
	// LastError describes the last failure counted in Errors.
	LastError string
}

// tally is the Result being filled by the goroutines of a run.
type tally struct {
	*Result
	mu sync.Mutex // guards LastError
}

func (t *tally) fail(err error) {
	if errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection") {
		atomic.AddInt64(&t.Reconnects, 1)
		return
	}
	atomic.AddInt64(&t.Errors, 1)
	t.mu.Lock()
	t.LastError = err.Error()
	t.mu.Unlock()
}

// String is the one-line summary `shardscope bench` prints.
func (r Result) String() string {
	secs := r.Elapsed.Seconds()
	cons := 0.0
	if r.ConsumeTime > 0 {
		cons = float64(r.Consumed) / r.ConsumeTime.Seconds()
	}
	line := fmt.Sprintf("put %.0f records/s %.2f MB/s · throttled %d · errors %d · consumed %.0f records/s · put→get p50 %.1f ms p99 %.1f ms",
		float64(r.Put)/secs, float64(r.PutBytes)/secs/1e6, r.Throttled, r.Errors, cons,
		float64(r.P50.Microseconds())/1000, float64(r.P99.Microseconds())/1000)
	if r.Reconnects > 0 {
		line += fmt.Sprintf(" · reconnects %d", r.Reconnects)
	}
	return line
}

// Client returns a Kinesis client for the endpoint with dummy credentials.
func Client(endpoint, region string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		Retryer:      retry.AddWithMaxAttempts(retry.NewStandard(), 1),
	})
}

// Run creates the stream, drives the load, reads it back and deletes the stream.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.fill()
	c := Client(cfg.Endpoint, cfg.Region)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(cfg.Stream), ShardCount: aws.Int32(int32(cfg.Shards))}); err != nil {
		return Result{}, fmt.Errorf("create stream: %w", err)
	}
	defer c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(cfg.Stream)})
	shards, err := waitActive(ctx, c, cfg.Stream)
	if err != nil {
		return Result{}, err
	}

	var res Result
	tl := &tally{Result: &res}
	var lats []time.Duration
	var latMu sync.Mutex
	readCtx, stopReading := context.WithCancel(ctx)
	var readers sync.WaitGroup
	readStart := time.Now()
	for i := 0; i < cfg.Consumers; i++ {
		for _, sh := range shards {
			it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(cfg.Stream), ShardId: aws.String(sh), ShardIteratorType: types.ShardIteratorTypeLatest})
			if err != nil {
				stopReading()
				return Result{}, fmt.Errorf("iterator: %w", err)
			}
			readers.Add(1)
			go func(it *string) {
				defer readers.Done()
				local := consume(readCtx, c, it, cfg.Poll, tl)
				latMu.Lock()
				lats = append(lats, local...)
				latMu.Unlock()
			}(it.ShardIterator)
		}
	}

	start := time.Now()
	putCtx, stopPutting := context.WithTimeout(ctx, cfg.Duration)
	var producers sync.WaitGroup
	for p := 0; p < cfg.Producers; p++ {
		producers.Add(1)
		go func(p int) {
			defer producers.Done()
			produce(putCtx, c, cfg, p, tl)
		}(p)
	}
	producers.Wait()
	stopPutting()
	res.Elapsed = time.Since(start)
	// Let readers catch up with the last batches, then stop them.
	deadline := time.Now().Add(2 * time.Second)
	for cfg.Consumers > 0 && atomic.LoadInt64(&res.Consumed) < int64(cfg.Consumers)*atomic.LoadInt64(&res.Put) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	res.ConsumeTime = time.Since(readStart)
	stopReading()
	readers.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		res.P50 = lats[len(lats)/2]
		res.P99 = lats[len(lats)*99/100]
	}
	return res, nil
}

func waitActive(ctx context.Context, c *kinesis.Client, stream string) ([]string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescription.StreamStatus == types.StreamStatusActive {
			var ids []string
			for _, s := range out.StreamDescription.Shards {
				ids = append(ids, aws.ToString(s.ShardId))
			}
			return ids, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("stream %s not ACTIVE after 30 s (last error: %v)", stream, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// produce sends batches until ctx ends. Each record starts with the send
// time in Unix nanoseconds, which readers turn into latency.
func produce(ctx context.Context, c *kinesis.Client, cfg Config, p int, res *tally) {
	rng := rand.New(rand.NewPCG(uint64(p), 7))
	entries := make([]types.PutRecordsRequestEntry, cfg.Batch)
	for ctx.Err() == nil {
		now := time.Now().UnixNano()
		for i := range entries {
			data := make([]byte, cfg.Size)
			binary.BigEndian.PutUint64(data, uint64(now))
			entries[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("pk-%d", rng.IntN(1<<20)))}
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(cfg.Stream), Records: entries})
		if err != nil {
			if ctx.Err() == nil {
				var pte *types.ProvisionedThroughputExceededException
				if errors.As(err, &pte) {
					atomic.AddInt64(&res.Throttled, int64(len(entries)))
				} else {
					res.fail(err)
				}
			}
			continue
		}
		ok := 0
		for _, r := range out.Records {
			switch aws.ToString(r.ErrorCode) {
			case "":
				ok++
			case "ProvisionedThroughputExceededException":
				atomic.AddInt64(&res.Throttled, 1)
			default:
				res.fail(fmt.Errorf("%s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
			}
		}
		atomic.AddInt64(&res.Put, int64(ok))
		atomic.AddInt64(&res.PutBytes, int64(ok*cfg.Size))
	}
}

// consume polls one shard every poll interval and returns the latencies it saw.
func consume(ctx context.Context, c *kinesis.Client, it *string, poll time.Duration, res *tally) []time.Duration {
	var lats []time.Duration
	t := time.NewTicker(poll)
	defer t.Stop()
	for it != nil {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			if ctx.Err() != nil {
				return lats
			}
			res.fail(err)
		} else {
			now := time.Now().UnixNano()
			for _, r := range out.Records {
				if len(r.Data) >= 8 {
					lats = append(lats, time.Duration(now-int64(binary.BigEndian.Uint64(r.Data))))
				}
			}
			atomic.AddInt64(&res.Consumed, int64(len(out.Records)))
			it = out.NextShardIterator
			if len(out.Records) > 0 {
				continue // more may be waiting: read again at once
			}
		}
		select {
		case <-ctx.Done():
			return lats
		case <-t.C:
		}
	}
	return lats
}
