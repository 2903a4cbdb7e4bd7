package ui

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2024, 5, 1, 12, 31, 5, 0, time.UTC)

// fakeBackend is a hand-made Backend: a PROVISIONED stream of four open
// shards and one closed parent with two children, priced by the engine's
// cost meter, a feed of JSON, text and binary records, four producers,
// three consumer applications (two polling, one fan-out, with workers and
// leases) and a fan-out consumer registered from outside. It records
// every action.
type fakeBackend struct {
	mu        sync.Mutex
	snap      engine.Snapshot
	feed      []engine.TapRecord
	dropped   uint64
	producers []ProducerView
	consumers []ConsumerView
	calls     []string
	fail      error // returned by every action when set
	copied    []string
	copyErr   error
	around    []AroundView
	rp        *fakeReplay // replays: see replay_test.go
}

func (f *fakeBackend) Around() []AroundView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AroundView(nil), f.around...)
}

func (f *fakeBackend) Snapshot() engine.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeBackend) DrainFeed(dst []engine.TapRecord) []engine.TapRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	dst = append(dst, f.feed...)
	f.feed = nil
	return dst
}

func (f *fakeBackend) FeedDropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *fakeBackend) Producers() []ProducerView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ProducerView(nil), f.producers...)
}

func (f *fakeBackend) Consumers() []ConsumerView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ConsumerView(nil), f.consumers...)
}

func (f *fakeBackend) record(format string, args ...any) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, call)
	if f.fail != nil {
		return "", f.fail
	}
	return "done: " + call, nil
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) SplitShard(stream, shardID string) (string, error) {
	return f.record("SplitShard(%s, %s)", stream, shardID)
}
func (f *fakeBackend) MergeShards(stream, a, b string) (string, error) {
	return f.record("MergeShards(%s, %s, %s)", stream, a, b)
}
func (f *fakeBackend) SetRetention(stream string, hours int) (string, error) {
	return f.record("SetRetention(%s, %d)", stream, hours)
}
func (f *fakeBackend) TimeLapse(d time.Duration) (string, error) {
	return f.record("TimeLapse(%s)", d)
}
func (f *fakeBackend) ProducerScale(name string, factor float64) (string, error) {
	return f.record("ProducerScale(%s, %g)", name, factor)
}
func (f *fakeBackend) ProducerBurst(name string) (string, error) {
	return f.record("ProducerBurst(%s)", name)
}
func (f *fakeBackend) ProducerToggle(name string) (string, error) {
	return f.record("ProducerToggle(%s)", name)
}
func (f *fakeBackend) ProducerCycleSkew(name string) (string, error) {
	return f.record("ProducerCycleSkew(%s)", name)
}
func (f *fakeBackend) ProducerToggleAggregate(name string) (string, error) {
	return f.record("ProducerToggleAggregate(%s)", name)
}
func (f *fakeBackend) ToggleCapacityMode(stream string) (string, error) {
	return f.record("ToggleCapacityMode(%s)", stream)
}
func (f *fakeBackend) AddConsumer(stream string, fanOut bool) (string, error) {
	return f.record("AddConsumer(%s, %v)", stream, fanOut)
}
func (f *fakeBackend) RemoveConsumer(stream, name string) (string, error) {
	return f.record("RemoveConsumer(%s, %s)", stream, name)
}
func (f *fakeBackend) StopWorker(app, worker string) (string, error) {
	return f.record("StopWorker(%s, %s)", app, worker)
}

func (f *fakeBackend) copy(text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.copyErr != nil {
		return f.copyErr
	}
	f.copied = append(f.copied, text)
	return nil
}

// push queues records for the next DrainFeed.
func (f *fakeBackend) push(recs ...engine.TapRecord) {
	f.mu.Lock()
	f.feed = append(f.feed, recs...)
	f.mu.Unlock()
}

var _ Backend = (*fakeBackend)(nil)

// hk returns num/den of the key space as a hash key (den a power of two).
func hk(num, den int64) engine.HashKey {
	n := new(big.Int).Lsh(big.NewInt(num), 128)
	n.Div(n, big.NewInt(den))
	var b [16]byte
	if n.BitLen() > 128 {
		return engine.MaxHashKey
	}
	n.FillBytes(b[:])
	return engine.HashKeyFromBytes(b)
}

// rng returns the range [a/den, b/den) of the key space.
func rng(a, b, den int64) engine.HashKeyRange {
	end := engine.MaxHashKey
	if b < den {
		end = hk(b, den).Sub(1)
	}
	return engine.HashKeyRange{Start: hk(a, den), End: end}
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// history makes 120 seconds of records-in counts around base, with a
// deterministic wobble so sparklines have a shape.
func history(base int64, seed int) []engine.Rate {
	h := make([]engine.Rate, engine.HistorySeconds)
	for i := range h {
		w := int64((i*7+seed*13)%11) - 5
		v := base + base*w/12
		if v < 0 {
			v = 0
		}
		h[i] = engine.Rate{RecordsIn: v, BytesIn: v * 300}
	}
	return h
}

func newFakeBackend() *fakeBackend {
	f := &fakeBackend{}
	shard := func(i int, r engine.HashKeyRange, open bool, recIn, bytesIn, thr, bytesOut, held int64, oldest time.Duration) engine.ShardSnapshot {
		s := engine.ShardSnapshot{
			Shard: engine.Shard{ShardID: shardID(i), HashKeyRange: r,
				StartingSequenceNumber: "49650000000000000000000000000000000000000000000000000000"},
			Index:   i,
			Open:    open,
			Records: held,
			Bytes:   held * 300,
			Oldest:  t0.Add(-oldest),
			Rate:    engine.Rate{RecordsIn: recIn, BytesIn: bytesIn, WriteThrottled: thr, BytesOut: bytesOut, RecordsOut: recIn},
		}
		if open {
			s.History = history(recIn, i)
		} else {
			s.EndingSequenceNumber = "49650000000000000000000000000000000000000000000000000099"
		}
		return s
	}
	s4 := shard(4, rng(2, 3, 4), true, 450, 140_000, 0, 900_000, 20_400, time.Minute)
	s4.ParentShardID = shardID(2)
	s5 := shard(5, rng(3, 4, 4), true, 120, 272_000, 0, 500_000, 19_800, time.Minute)
	s5.ParentShardID = shardID(2)
	s5.History = append(make([]engine.Rate, 100), history(120, 5)[:20]...) // a new shard
	s2 := shard(2, rng(2, 4, 4), false, 0, 0, 0, 0, 800_000, 23*time.Minute)
	s2.Children = []string{shardID(4), shardID(5)}
	stream := engine.StreamSnapshot{
		Name:           "demo",
		ARN:            "arn:aws:kinesis:us-east-1:000000000000:stream/demo",
		Status:         engine.StatusActive,
		Mode:           engine.ModeProvisioned,
		RetentionHours: 24,
		Created:        t0.Add(-time.Hour),
		OpenShards:     4,
		ClosedShards:   1,
		Shards: []engine.ShardSnapshot{
			shard(0, rng(0, 1, 4), true, 980, 310_000, 37, 1_900_000, 1_210_000, 23*time.Minute),
			shard(1, rng(1, 2, 4), true, 200, 330_000, 0, 600_000, 410_000, 23*time.Minute),
			s4, s5, s2,
		},
		Rate: engine.Rate{RecordsIn: 1750, BytesIn: 1_052_000, BytesOut: 3_900_000, WriteThrottled: 37, ReadThrottled: 3},
		Consumers: []engine.ConsumerSnapshot{
			{Name: "iot-alerts", Status: engine.ConsumerActive, Created: t0.Add(-30 * time.Minute), Subscriptions: 4,
				Rate: engine.Rate{RecordsOut: 1750, BytesOut: 1_052_000}},
			{Name: "cli-reader", Status: engine.ConsumerActive, Created: t0.Add(-2 * time.Minute), Subscriptions: 1,
				Rate: engine.Rate{RecordsOut: 200, BytesOut: 330_000}},
		},
	}
	stream.Shards[0].Rate.ReadThrottled = 3
	stream.FanOut = engine.Rate{RecordsOut: 1950, BytesOut: 1_382_000}
	stream.Utilisation = engine.Utilisation{Records: 1750.0 / 4000, Bytes: 1_052_000.0 / (4 << 20)}
	stream.Utilisation.Max, stream.Utilisation.By = stream.Utilisation.Records, "records"
	setCost(&stream, 1750, 1_052_000, 3_900_000, 2)
	f.snap = engine.Snapshot{
		At:            t0,
		Streams:       []engine.StreamSnapshot{stream},
		LimitsEnabled: true,
		Sync:          "fsync",
		Events: []engine.Event{
			{Seq: 1, At: t0.Add(-5 * time.Minute), Kind: engine.EventStream, Stream: "demo", Message: "stream demo created with 3 shards (PROVISIONED, retention 24h)"},
			{Seq: 2, At: t0.Add(-67 * time.Second), Kind: engine.EventReshard, Stream: "demo", ShardID: shardID(2), Message: "split 000000000002 at 2^127 → 000000000004, 000000000005"},
			{Seq: 3, At: t0.Add(-24 * time.Second), Kind: engine.EventThrottle, Stream: "demo", ShardID: shardID(0), Message: `throttling on 000000000000: 37 records/s rejected — one partition key carries 30 % of the load ("user-1")`},
		},
	}
	f.feed = sampleRecords(24, t0.Add(-3*time.Second))
	f.producers = []ProducerView{
		{Name: "clickstream", On: true, Rate: 800, ActualRate: 792, Skew: "zipf", Sent: 96_112, Throttled: 410, Retried: 402, GivenUp: 8},
		{Name: "iot", On: true, Rate: 600, ActualRate: 600, Skew: "uniform", Sent: 72_004, Aggregating: true},
		{Name: "logs", On: true, Rate: 1000, ActualRate: 9_870, Skew: "hot 30%", Sent: 120_950, Throttled: 2_310, Retried: 2_290, Bursting: true},
		{Name: "replay", On: false, Rate: 50, Skew: "uniform", Sent: 1_200, Errors: 2, LastError: "ResourceNotFoundException: Stream old-demo under account 000000000000 not found."},
	}
	ms := time.Millisecond
	f.consumers = []ConsumerView{
		{Name: "page-stats", Stream: "demo", Kind: KindPolling, Lag: 120 * ms, ShardsDone: 4, Shards: 5, Records: 95_880,
			Summary:     []string{"top: /home 31%  /cart 12%  /p/7 9%", "active sessions 1,204"},
			PerShardLag: map[string]time.Duration{shardID(0): 120 * ms, shardID(1): 40 * ms},
			Workers: []WorkerView{
				{ID: "worker-1", Leases: []string{shardID(0), shardID(1)}},
				{ID: "worker-2", Leases: []string{shardID(4), shardID(5)}},
			},
			PerShard: []ShardLagView{
				{ShardID: shardID(0), Lag: 120 * ms, Checkpoint: "49650000000000000000000000000000000000000000000001045021", Owner: "worker-1"},
				{ShardID: shardID(1), Lag: 40 * ms, Checkpoint: "49650000000000000000000000000000000000000000000001045016", Owner: "worker-1"},
				{ShardID: shardID(2), Checkpoint: "SHARD_END"},
				{ShardID: shardID(4), Lag: 80 * ms, Checkpoint: "49650000000000000000000000000000000000000000000001045023", Owner: "worker-2"},
				{ShardID: shardID(5), Lag: 0, Checkpoint: "TRIM_HORIZON", Owner: "worker-2"},
			}},
		{Name: "iot-alerts", Stream: "demo", Kind: KindFanOut, Lag: 2100 * ms, ShardsDone: 4, Shards: 4, Records: 71_990,
			Summary:     []string{"⚠ sensor-0042 temp 71.3 (> 60)"},
			PerShardLag: map[string]time.Duration{shardID(4): 2100 * ms},
			Workers:     []WorkerView{{ID: "worker-1", Leases: []string{shardID(0), shardID(1), shardID(4), shardID(5)}}}},
		{Name: "log-stats", Kind: KindPolling, Lag: 14 * time.Second, ShardsDone: 3, Shards: 4, Records: 110_400, Throttled: 12, ReadThrottled: 3,
			Summary: []string{"errors: checkout 4.1%  search 0.3%", "p99 latency 412 ms"},
			Workers: []WorkerView{
				{ID: "worker-1", Leases: []string{shardID(0), shardID(1), shardID(4), shardID(5)}},
				{ID: "worker-2", Stopped: true},
			}},
	}
	return f
}

// setCost prices a stream's workload with the engine's cost meter, as the
// engine's snapshot does.
func setCost(s *engine.StreamSnapshot, rps, bin, bout float64, efo int) {
	c := engine.EstimateCost(engine.DefaultPrices, s.OpenShards, rps, bin, bout, efo)
	c.Basis = "last 60 s: " + c.Basis
	c.Current = s.Mode
	c.CurrentHourly, c.CurrentMonthly = c.ProvisionedHourly, c.ProvisionedMonthly
	if s.Mode == engine.ModeOnDemand {
		c.CurrentHourly, c.CurrentMonthly = c.OnDemandHourly, c.OnDemandMonthly
	}
	s.Cost = c
}

// sampleRecords makes n records, 125 ms apart from start, cycling through
// clickstream JSON, IoT JSON, a multi-line log line, wide text and binary.
func sampleRecords(n int, start time.Time) []engine.TapRecord {
	out := make([]engine.TapRecord, n)
	for i := range out {
		var pk string
		var data []byte
		switch i % 5 {
		case 0:
			pk = fmt.Sprintf("user-%d", 1800+i)
			data = []byte(fmt.Sprintf(`{"event":"page_view","page":"/cart","session":"s-%04d","user":"user-%d","ms":%d}`, i, 1800+i, 30+i))
		case 1:
			pk = fmt.Sprintf("sensor-%04d", 40+i)
			data = []byte(fmt.Sprintf(`{"device":"sensor-%04d","temp":21.%d,"humidity":0.%d}`, 40+i, i%10, 40+i))
		case 2:
			pk = "api-gw-3"
			data = []byte("GET /healthz 200 1ms\n\ttrace=abc\x1b[31m")
		case 3:
			pk = "user-ü-名前"
			data = []byte("héllo wörld — 日本語のテキスト, 12 bytes of wide text")
		case 4:
			pk = "bin-7"
			data = []byte{0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x41, 0x42, 0xc3}
		}
		key := engine.HashPartitionKey(pk)
		// route as the fake's open shards split the key space: quarters
		shard := shardID([]int{0, 1, 4, 5}[int(key.Fraction()*4)])
		out[i] = engine.TapRecord{
			Stream:  "demo",
			ShardID: shard,
			HashKey: key,
			Record: engine.Record{
				SequenceNumber:              fmt.Sprintf("4965%052d", 1045000+i),
				ApproximateArrivalTimestamp: start.Add(time.Duration(i) * 125 * time.Millisecond),
				Data:                        data,
				PartitionKey:                pk,
			},
		}
	}
	return out
}

var errBoom = errors.New("LimitExceededException: Rate exceeded for stream demo")
