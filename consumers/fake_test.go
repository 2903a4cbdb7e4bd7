package consumers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// fakeSource is an in-memory stream for the tests: shards with records,
// lineage by split and merge, paging of ListShards, and faults on demand.
type fakeSource struct {
	stream string

	mu         sync.Mutex
	order      []string // shard IDs in creation order
	shards     map[string]*fakeShard
	iters      map[string]fakeIter
	nextIter   int
	seq        int64
	pageSize   int            // ListShards page size; 0 = all in one page
	expireNext int            // the next N GetRecords calls fail with ExpiredIteratorException
	calls      map[string]int // "<Action>" and "<Action>:<shard>"
	iterTypes  []engine.IteratorType
	listErr    error
	clock      engine.Clock // stamps arrivals; nil: a fixed time
}

type fakeShard struct {
	info     engine.Shard
	recs     []engine.Record
	throttle bool // GetRecords fails with ProvisionedThroughputExceededException
	notFound bool // GetShardIterator and GetRecords fail with ResourceNotFoundException
	hidden   bool // ListShards omits it
}

type fakeIter struct {
	shard string
	pos   int
}

var _ Source = (*fakeSource)(nil)

func newFakeSource(stream string, open ...string) *fakeSource {
	f := &fakeSource{stream: stream, shards: make(map[string]*fakeShard), iters: make(map[string]fakeIter), calls: make(map[string]int)}
	for _, id := range open {
		f.addShard(engine.Shard{ShardID: id})
	}
	return f
}

func (f *fakeSource) addShard(s engine.Shard) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.StartingSequenceNumber = fmt.Sprintf("%020d", f.seq)
	f.shards[s.ShardID] = &fakeShard{info: s}
	f.order = append(f.order, s.ShardID)
}

// put appends a record to a shard and returns its sequence number.
func (f *fakeSource) put(shard, key, data string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh := f.shards[shard]
	if sh == nil || !sh.info.Open() {
		panic("put to a missing or closed shard " + shard)
	}
	f.seq++
	seq := fmt.Sprintf("%020d", f.seq)
	arrival := time.Unix(1700000000, 0).UTC()
	if f.clock != nil {
		arrival = f.clock.Now()
	}
	sh.recs = append(sh.recs, engine.Record{
		SequenceNumber:              seq,
		ApproximateArrivalTimestamp: arrival,
		Data:                        []byte(data),
		PartitionKey:                key,
	})
	return seq
}

func (f *fakeSource) closeShard(id string) {
	sh := f.shards[id]
	f.seq++
	sh.info.EndingSequenceNumber = fmt.Sprintf("%020d", f.seq)
}

// split closes parent and opens two children.
func (f *fakeSource) split(parent, a, b string) {
	f.mu.Lock()
	f.closeShard(parent)
	f.mu.Unlock()
	f.addShard(engine.Shard{ShardID: a, ParentShardID: parent})
	f.addShard(engine.Shard{ShardID: b, ParentShardID: parent})
}

// merge closes two shards and opens their child.
func (f *fakeSource) merge(p1, p2, child string) {
	f.mu.Lock()
	f.closeShard(p1)
	f.closeShard(p2)
	f.mu.Unlock()
	f.addShard(engine.Shard{ShardID: child, ParentShardID: p1, AdjacentParentShardID: p2})
}

func (f *fakeSource) set(shard string, fn func(*fakeShard)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.shards[shard])
}

func (f *fakeSource) setExpireNext(n int) {
	f.mu.Lock()
	f.expireNext = n
	f.mu.Unlock()
}

func (f *fakeSource) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fakeSource) lastSeq(shard string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := f.shards[shard].recs
	if len(recs) == 0 {
		return ""
	}
	return recs[len(recs)-1].SequenceNumber
}

func (f *fakeSource) ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ListShards"]++
	if f.listErr != nil {
		return engine.ListShardsOutput{}, f.listErr
	}
	start := 0
	if in.NextToken != "" {
		if in.StreamName != "" || in.StreamARN != "" {
			return engine.ListShardsOutput{}, &engine.Error{Code: engine.InvalidArgumentException, Message: "NextToken with StreamName"}
		}
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "page-"))
		if err != nil {
			return engine.ListShardsOutput{}, &engine.Error{Code: engine.InvalidArgumentException, Message: "bad token"}
		}
		start = n
	} else if in.StreamName != f.stream {
		return engine.ListShardsOutput{}, &engine.Error{Code: engine.ResourceNotFoundException, Message: "no stream " + in.StreamName}
	}
	var visible []engine.Shard
	for _, id := range f.order {
		if sh := f.shards[id]; !sh.hidden {
			visible = append(visible, sh.info)
		}
	}
	end := len(visible)
	if f.pageSize > 0 && start+f.pageSize < end {
		end = start + f.pageSize
	}
	out := engine.ListShardsOutput{Shards: append([]engine.Shard(nil), visible[start:end]...)}
	if end < len(visible) {
		out.NextToken = fmt.Sprintf("page-%d", end)
	}
	return out, nil
}

func (f *fakeSource) GetShardIterator(ctx context.Context, in engine.GetShardIteratorInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["GetShardIterator"]++
	f.calls["GetShardIterator:"+in.ShardID]++
	f.iterTypes = append(f.iterTypes, in.ShardIteratorType)
	sh := f.shards[in.ShardID]
	if in.StreamName != f.stream || sh == nil || sh.notFound {
		return "", &engine.Error{Code: engine.ResourceNotFoundException, Message: "no shard " + in.ShardID}
	}
	var pos int
	switch in.ShardIteratorType {
	case engine.TrimHorizon:
		pos = 0
	case engine.Latest:
		pos = len(sh.recs)
	case engine.AfterSequenceNumber, engine.AtSequenceNumber:
		if _, err := strconv.ParseUint(in.StartingSequenceNumber, 10, 64); err != nil || len(in.StartingSequenceNumber) != 20 {
			return "", &engine.Error{Code: engine.InvalidArgumentException, Message: "bad sequence number"}
		}
		pos = sort.Search(len(sh.recs), func(i int) bool {
			if in.ShardIteratorType == engine.AtSequenceNumber {
				return sh.recs[i].SequenceNumber >= in.StartingSequenceNumber
			}
			return sh.recs[i].SequenceNumber > in.StartingSequenceNumber
		})
	default:
		return "", &engine.Error{Code: engine.InvalidArgumentException, Message: "bad type"}
	}
	f.nextIter++
	tok := fmt.Sprintf("it-%d", f.nextIter)
	f.iters[tok] = fakeIter{shard: in.ShardID, pos: pos}
	return tok, nil
}

func (f *fakeSource) GetRecords(ctx context.Context, in engine.GetRecordsInput) (engine.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["GetRecords"]++
	it, ok := f.iters[in.ShardIterator]
	if !ok {
		return engine.GetRecordsOutput{}, &engine.Error{Code: engine.InvalidArgumentException, Message: "Invalid ShardIterator."}
	}
	f.calls["GetRecords:"+it.shard]++
	sh := f.shards[it.shard]
	switch {
	case sh.notFound:
		return engine.GetRecordsOutput{}, &engine.Error{Code: engine.ResourceNotFoundException, Message: "no shard"}
	case sh.throttle:
		return engine.GetRecordsOutput{}, &engine.Error{Code: engine.ProvisionedThroughputExceededException, Message: "slow down"}
	case f.expireNext > 0:
		f.expireNext--
		return engine.GetRecordsOutput{}, &engine.Error{Code: engine.ExpiredIteratorException, Message: "Iterator expired."}
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 10000
	}
	end := min(it.pos+limit, len(sh.recs))
	out := engine.GetRecordsOutput{
		Records:            append([]engine.Record(nil), sh.recs[it.pos:end]...),
		MillisBehindLatest: int64(len(sh.recs)-end) * 1000,
	}
	if !sh.info.Open() && end == len(sh.recs) {
		for _, id := range f.order {
			c := f.shards[id].info
			if c.ParentShardID == it.shard || c.AdjacentParentShardID == it.shard {
				out.ChildShards = append(out.ChildShards, engine.ChildShard{ShardID: id,
					ParentShards: nonEmpty(c.ParentShardID, c.AdjacentParentShardID)})
			}
		}
		return out, nil
	}
	f.nextIter++
	tok := fmt.Sprintf("it-%d", f.nextIter)
	f.iters[tok] = fakeIter{shard: it.shard, pos: end}
	out.NextShardIterator = tok
	return out, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// collector is a Processor that checks delivery: records carry "key:n"
// and, per key, n must come in order 0, 1, 2, ...
type collector struct {
	mu         sync.Mutex
	next       map[string]int
	seen       map[string]int // record → deliveries
	total      int
	dups       int
	outOfOrder []string
	lastBatch  map[string][]string // shard → records of its latest batch
	onProcess  func(total int)
	fail       int           // fail the next N calls
	delay      time.Duration // per batch, so that a reader that should wait falls behind
}

func newCollector() *collector {
	return &collector{next: make(map[string]int), seen: make(map[string]int), lastBatch: make(map[string][]string)}
}

func (c *collector) Process(shardID string, records []engine.Record) error {
	time.Sleep(c.delay)
	c.mu.Lock()
	if c.fail > 0 {
		c.fail--
		c.mu.Unlock()
		return fmt.Errorf("processor failure on demand")
	}
	batch := make([]string, 0, len(records))
	for _, r := range records {
		d := string(r.Data)
		batch = append(batch, d)
		c.total++
		c.seen[d]++
		if c.seen[d] > 1 {
			c.dups++
			continue
		}
		key, ns, _ := strings.Cut(d, ":")
		n, _ := strconv.Atoi(ns)
		if want := c.next[key]; n != want {
			c.outOfOrder = append(c.outOfOrder, fmt.Sprintf("%s got %d want %d (shard %s)", key, n, want, shardID))
		}
		c.next[key] = n + 1
	}
	c.lastBatch[shardID] = batch
	total := c.total
	hook := c.onProcess
	c.mu.Unlock()
	if hook != nil {
		hook(total)
	}
	return nil
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// dupCount returns how many deliveries repeated a record.
func (c *collector) dupCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups
}

// check fails the test unless want distinct records arrived exactly once
// and in per-key order.
func (c *collector) check(t *testing.T, want int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) != want {
		t.Errorf("distinct records: got %d, want %d", len(c.seen), want)
	}
	if c.dups != 0 {
		t.Errorf("duplicates: got %d, want 0", c.dups)
	}
	if len(c.outOfOrder) > 0 {
		t.Errorf("out of order: %v", c.outOfOrder)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startApp runs a in the background; the returned stop cancels it and
// fails the test unless Run returns within a deadline.
func startApp(t *testing.T, a *App) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(waitLong):
				t.Fatalf("Run did not return within %v of cancel", waitLong)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testConfig polls fast, for tests.
func testConfig() Config {
	return Config{
		PollInterval:    5 * time.Millisecond,
		MinReadInterval: -1,
		Limit:           7,
		RelistInterval:  20 * time.Millisecond,
		ThrottleBackoff: 10 * time.Millisecond,
	}
}

func shardStats(s Stats, id string) (ShardStats, bool) {
	for _, sh := range s.Shards {
		if sh.ShardID == id {
			return sh, true
		}
	}
	return ShardStats{}, false
}
