package producers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSink is a Sink that accepts, throttles or fails records as told and
// records every call at the time of its clock.
type fakeSink struct {
	clock engine.Clock

	mu       sync.Mutex
	rnd      *rand.Rand
	throttle float64 // share of records rejected with ProvisionedThroughputExceededException
	internal float64 // share of records rejected with InternalFailure
	callErr  error   // when set, every call fails with it
	calls    []fakeCall
	attempts map[string][]time.Time // by record data
	accepted map[string]int         // by record data
	shards   []engine.Shard
	bad      []string // problems with the input seen
}

type fakeCall struct {
	at      time.Time
	records int
	bytes   int
	keys    []string
}

func newFakeSink(clock engine.Clock, seed uint64) *fakeSink {
	return &fakeSink{
		clock:    clock,
		rnd:      rand.New(rand.NewPCG(seed, 7)),
		attempts: map[string][]time.Time{},
		accepted: map[string]int{},
	}
}

func (f *fakeSink) PutRecords(ctx context.Context, in engine.PutRecordsInput) (engine.PutRecordsOutput, error) {
	now := f.clock.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := fakeCall{at: now, records: len(in.Records)}
	if in.StreamName == "" && in.StreamARN == "" {
		f.bad = append(f.bad, "no stream")
	}
	if len(in.Records) == 0 || len(in.Records) > 500 {
		f.bad = append(f.bad, fmt.Sprintf("batch of %d", len(in.Records)))
	}
	for _, r := range in.Records {
		c.bytes += len(r.Data) + len(r.PartitionKey)
		c.keys = append(c.keys, r.PartitionKey)
		if r.PartitionKey == "" {
			f.bad = append(f.bad, "empty key")
		}
	}
	if c.bytes > 5<<20 {
		f.bad = append(f.bad, fmt.Sprintf("batch of %d bytes", c.bytes))
	}
	f.calls = append(f.calls, c)
	if err := ctx.Err(); err != nil {
		return engine.PutRecordsOutput{}, err
	}
	if f.callErr != nil {
		return engine.PutRecordsOutput{}, f.callErr
	}
	out := engine.PutRecordsOutput{Records: make([]engine.PutRecordsResult, len(in.Records))}
	for i, r := range in.Records {
		f.attempts[string(r.Data)] = append(f.attempts[string(r.Data)], now)
		switch u := f.rnd.Float64(); {
		case u < f.throttle:
			out.Records[i] = engine.PutRecordsResult{ErrorCode: engine.ProvisionedThroughputExceededException, ErrorMessage: "Rate exceeded for shard shardId-000000000000"}
			out.FailedRecordCount++
		case u < f.throttle+f.internal:
			out.Records[i] = engine.PutRecordsResult{ErrorCode: engine.InternalFailure, ErrorMessage: "Internal service failure."}
			out.FailedRecordCount++
		default:
			f.accepted[string(r.Data)]++
			out.Records[i] = engine.PutRecordsResult{ShardID: "shardId-000000000000", SequenceNumber: "1"}
		}
	}
	return out, nil
}

func (f *fakeSink) ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := 0
	if in.NextToken != "" {
		fmt.Sscanf(in.NextToken, "tok-%d", &start)
	}
	end := min(start+2, len(f.shards))
	out := engine.ListShardsOutput{Shards: append([]engine.Shard(nil), f.shards[start:end]...)}
	if end < len(f.shards) {
		out.NextToken = fmt.Sprintf("tok-%d", end)
	}
	return out, nil
}

func (f *fakeSink) set(fn func(f *fakeSink)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSink) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeSink) snapshot() (calls []fakeCall, attempts map[string][]time.Time, accepted map[string]int, bad []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	attempts = make(map[string][]time.Time, len(f.attempts))
	for k, v := range f.attempts {
		attempts[k] = append([]time.Time(nil), v...)
	}
	accepted = make(map[string]int, len(f.accepted))
	for k, v := range f.accepted {
		accepted[k] = v
	}
	return append([]fakeCall(nil), f.calls...), attempts, accepted, append([]string(nil), f.bad...)
}

// seqGen is a Generator whose records are all distinct, so the fake sink
// can follow each one across attempts.
type seqGen struct {
	n    int
	keys int
}

func (*seqGen) Kind() string     { return "seq" }
func (g *seqGen) Entities() int  { return g.keys }
func (*seqGen) Key(i int) string { return fmt.Sprintf("k-%d", i) }
func (g *seqGen) Next(r *rand.Rand, now time.Time, keys KeyPicker) (string, []byte) {
	g.n++
	return g.Key(keys.Pick(r, g.keys)), fmt.Appendf(nil, `{"n":%d,"ts":%q}`, g.n, now.Format(time.RFC3339Nano))
}

// drive advances the clock by step and runs one producer step, for d of
// clock time.
func drive(p *Producer, clk *engine.ManualClock, d, step time.Duration) {
	for el := time.Duration(0); el < d; el += step {
		clk.Advance(step)
		p.step(context.Background())
	}
}

// driveUntil drives in steps until cond holds, failing after limit of clock
// time.
func driveUntil(t *testing.T, p *Producer, clk *engine.ManualClock, step, limit time.Duration, cond func() bool) {
	t.Helper()
	for el := time.Duration(0); !cond(); el += step {
		if el > limit {
			t.Fatalf("condition not met after %v of clock time", limit)
		}
		clk.Advance(step)
		p.step(context.Background())
	}
}

// waitFor polls cond until it holds, failing after a real-time deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// syncSteps waits until a running producer has completed two more steps,
// so at least one whole step has read the clock as it is now.
func syncSteps(t *testing.T, p *Producer) {
	t.Helper()
	n := p.steps.Load()
	waitFor(t, "producer steps", func() bool { return p.steps.Load() >= n+2 })
}

// advanceUntil advances the clock of a running producer step by step
// until cond holds, failing after limit of clock time.
func advanceUntil(t *testing.T, p *Producer, clk *engine.ManualClock, step, limit time.Duration, cond func() bool) {
	t.Helper()
	for el := time.Duration(0); !cond(); el += step {
		if el > limit {
			t.Fatalf("condition not met after %v of clock time", limit)
		}
		clk.Advance(step)
		syncSteps(t, p)
	}
}

// runAsync runs p in a goroutine and returns a function that stops it and
// waits, with a deadline, for Run to return.
func runAsync(t *testing.T, p *Producer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
