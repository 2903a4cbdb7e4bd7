package producers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// evenShards returns n open shards covering the key space evenly, named
// prefix0, prefix1, ….
func evenShards(prefix string, n int) []engine.Shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	key := func(v *big.Int) engine.HashKey {
		var b [16]byte
		v.FillBytes(b[:])
		return engine.HashKeyFromBytes(b)
	}
	out := make([]engine.Shard, n)
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == n-1 {
			end = new(big.Int).Sub(space, big.NewInt(1))
		}
		out[i] = engine.Shard{ShardID: fmt.Sprintf("%s%d", prefix, i), HashKeyRange: engine.HashKeyRange{Start: key(start), End: key(end)}}
	}
	return out
}

// routingSink routes entries to its actual shards by hash key, as the
// service does, while ListShards reports listed (a stale map first, then
// the actual one).
type routingSink struct {
	mu        sync.Mutex
	listed    [][]engine.Shard // successive ListShards answers; the last repeats
	actual    []engine.Shard
	listCalls int
	listErr   error
	entries   map[string][]engine.Record // by actual shard
	seq       int
}

func newRoutingSink(actual []engine.Shard, listed ...[]engine.Shard) *routingSink {
	if len(listed) == 0 {
		listed = [][]engine.Shard{actual}
	}
	return &routingSink{listed: listed, actual: actual, entries: map[string][]engine.Record{}}
}

func (s *routingSink) PutRecords(_ context.Context, in engine.PutRecordsInput) (engine.PutRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := engine.PutRecordsOutput{}
	for _, e := range in.Records {
		h := engine.HashPartitionKey(e.PartitionKey)
		if e.ExplicitHashKey != "" {
			h, _ = engine.ParseHashKey(e.ExplicitHashKey)
		}
		res := engine.PutRecordsResult{ErrorCode: engine.InternalFailure, ErrorMessage: "no shard"}
		for _, sh := range s.actual {
			if sh.HashKeyRange.Contains(h) {
				s.seq++
				seq := fmt.Sprintf("%020d", s.seq)
				s.entries[sh.ShardID] = append(s.entries[sh.ShardID], engine.Record{SequenceNumber: seq, Data: e.Data, PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey})
				res = engine.PutRecordsResult{ShardID: sh.ShardID, SequenceNumber: seq}
				break
			}
		}
		out.Records = append(out.Records, res)
	}
	return out, nil
}

func (s *routingSink) ListShards(context.Context, engine.ListShardsInput) (engine.ListShardsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return engine.ListShardsOutput{}, s.listErr
	}
	m := s.listed[min(s.listCalls, len(s.listed)-1)]
	s.listCalls++
	return engine.ListShardsOutput{Shards: append([]engine.Shard(nil), m...)}, nil
}

// delivered de-aggregates what each actual shard holds, as a consumer of
// that shard would, and counts the user records by data.
func (s *routingSink) delivered() (users map[string]int, kinesis, dropped int, perAggregateKeys [][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users = map[string]int{}
	for _, sh := range s.actual {
		recs := s.entries[sh.ShardID]
		kinesis += len(recs)
		for _, r := range recs {
			if consumers.IsAggregated(r.Data) {
				us, _ := consumers.Deaggregate([]engine.Record{r}, nil)
				var keys []string
				for _, u := range us {
					keys = append(keys, u.PartitionKey)
				}
				perAggregateKeys = append(perAggregateKeys, keys)
			}
		}
		rng := sh.HashKeyRange
		us, d := consumers.Deaggregate(recs, &rng)
		dropped += d
		for _, u := range us {
			users[string(u.Data)]++
		}
	}
	return users, kinesis, dropped, perAggregateKeys
}

func TestAggregatorSizeIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var recs []UserRecord
	for i := range 60 {
		u := UserRecord{PartitionKey: fmt.Sprintf("k%d-%s", i%9, strings.Repeat("x", r.IntN(3)*100))}
		switch i % 6 {
		case 1:
			u.Data = make([]byte, 127+r.IntN(3)) // around a varint step
		case 2:
			u.Data = make([]byte, 16383+r.IntN(3))
		case 3:
			u.ExplicitHashKey = fmt.Sprint(r.Uint64())
			u.Data = []byte("ehk")
		default:
			u.Data = fmt.Appendf(nil, "record %d", i)
		}
		recs = append(recs, u)
	}
	for n := 1; n <= len(recs); n++ {
		a := NewAggregator(0)
		for _, u := range recs[:n] {
			if err := a.Add(u); err != nil {
				t.Fatalf("Add %d: %v", n, err)
			}
		}
		size := a.Size()
		e, ok := a.Build()
		if !ok || len(e.Data)+len(e.PartitionKey) != size {
			t.Fatalf("%d records: Size %d, built %d bytes", n, size, len(e.Data)+len(e.PartitionKey))
		}
		if e.PartitionKey != recs[0].PartitionKey || a.Len() != 0 || a.Size() != 0 {
			t.Fatalf("%d records: container key %q (want the first record's), %d left after Build", n, e.PartitionKey, a.Len())
		}
		users, _ := consumers.Deaggregate([]engine.Record{{SequenceNumber: "1", Data: e.Data}}, nil)
		if len(users) != n {
			t.Fatalf("%d records: de-aggregated %d", n, len(users))
		}
		for i, u := range users {
			if u.PartitionKey != recs[i].PartitionKey || u.ExplicitHashKey != recs[i].ExplicitHashKey || !bytes.Equal(u.Data, recs[i].Data) {
				t.Fatalf("%d records: record %d differs", n, i)
			}
		}
	}
}

func TestAggregatorRespectsTheRecordLimit(t *testing.T) {
	a := NewAggregator(0) // MaxRecordBytes
	chunk := UserRecord{PartitionKey: "pk", Data: make([]byte, 100<<10)}
	n := 0
	for {
		err := a.Add(chunk)
		if errors.Is(err, ErrAggregateFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 || a.Size() > MaxRecordBytes || !a.Fits(UserRecord{PartitionKey: "pk", Data: make([]byte, 1000)}) {
		t.Errorf("100 KiB records in 1 MiB: got %d (size %d), want 10 and room for a small one", n, a.Size())
	}
	e, _ := a.Build()
	if len(e.Data)+len(e.PartitionKey) > MaxRecordBytes {
		t.Errorf("aggregate of %d bytes exceeds the record limit", len(e.Data)+len(e.PartitionKey))
	}

	// One record that fills the limit exactly fits; a byte more does not.
	fill := UserRecord{PartitionKey: "pk"}
	for d := MaxRecordBytes - 40; ; d++ {
		fill.Data = make([]byte, d)
		if !NewAggregator(0).Fits(fill) {
			fill.Data = make([]byte, d-1)
			break
		}
	}
	a = NewAggregator(0)
	if err := a.Add(fill); err != nil || a.Size() != MaxRecordBytes {
		t.Errorf("record filling 1 MiB: %v, size %d", err, a.Size())
	}
	if err := a.Add(UserRecord{PartitionKey: "pk", Data: []byte{1}}); !errors.Is(err, ErrAggregateFull) {
		t.Errorf("adding to a full aggregate: got %v, want ErrAggregateFull", err)
	}
	fill.Data = append(fill.Data, 0)
	if err := NewAggregator(0).Add(fill); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("record a byte too large: got %v, want ErrRecordTooLarge", err)
	}
	if err := NewAggregator(0).Add(UserRecord{Data: []byte("x")}); err == nil {
		t.Errorf("record without a partition key accepted")
	}
	if err := NewAggregator(0).Add(UserRecord{PartitionKey: "k", ExplicitHashKey: "12x", Data: []byte("x")}); err == nil {
		t.Errorf("malformed explicit hash key accepted")
	}

	// Keys repeat through the tables: a thousand records of one long key
	// cost the key once.
	key := strings.Repeat("k", 200)
	a = NewAggregator(0)
	for range 1000 {
		if err := a.Add(UserRecord{PartitionKey: key, Data: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if a.Size() > 1000*8+2*len(key)+100 {
		t.Errorf("1000 records of one key: %d bytes, want the key stored once", a.Size())
	}

	entries, err := Aggregate([]UserRecord{chunk, chunk, chunk}, 250<<10)
	if err != nil || len(entries) != 2 {
		t.Errorf("three 100 KiB records in 250 KiB aggregates: got %d, %v; want 2", len(entries), err)
	}
	if _, err := Aggregate([]UserRecord{{PartitionKey: "k", Data: make([]byte, MaxRecordBytes)}}, 0); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("Aggregate of a 1 MiB record: got %v, want ErrRecordTooLarge", err)
	}
}

func TestProducerAggregatesPerShard(t *testing.T) {
	clk := engine.NewManualClock(t0)
	sink := newRoutingSink(evenShards("shard-", 4))
	p := New("agg", &seqGen{keys: 50}, sink, "stream", Config{Clock: clk, Rate: 3000, Aggregate: true})
	drive(p, clk, 2*time.Second, 10*time.Millisecond)
	settle(t, p, clk)
	s := p.Stats()
	users, kinesis, dropped, keys := sink.delivered()
	if s.Sent != s.Generated || s.GivenUp != 0 || s.Generated < 5000 {
		t.Fatalf("generated %d, sent %d, given up %d", s.Generated, s.Sent, s.GivenUp)
	}
	if dropped != 0 || len(users) != int(s.Generated) {
		t.Errorf("consumers see %d distinct user records (%d aggregates dropped), want %d", len(users), dropped, s.Generated)
	}
	for d, n := range users {
		if n != 1 {
			t.Errorf("user record %s delivered %d times", d, n)
		}
	}
	if !s.Aggregating || s.KinesisRecords != uint64(kinesis) || s.KinesisRecords*10 > s.Sent || s.Aggregates == 0 || s.Misrouted != 0 {
		t.Errorf("stats: aggregating %v, %d Kinesis records (sink %d) for %d user records, %d aggregates, %d misrouted",
			s.Aggregating, s.KinesisRecords, kinesis, s.Sent, s.Aggregates, s.Misrouted)
	}
	distinctKeys := 0
	for _, ks := range keys {
		seen := map[string]bool{}
		for _, k := range ks {
			seen[k] = true
		}
		distinctKeys = max(distinctKeys, len(seen))
	}
	if distinctKeys < 2 {
		t.Errorf("aggregates never mixed partition keys of one shard")
	}
	sink.mu.Lock()
	for id, recs := range sink.entries {
		for _, r := range recs {
			if len(r.Data)+len(r.PartitionKey) > DefaultAggregateMaxBytes {
				t.Errorf("shard %s: a record of %d bytes, over the aggregate limit", id, len(r.Data)+len(r.PartitionKey))
			}
		}
	}
	if sink.listCalls != 1 {
		t.Errorf("ListShards calls: got %d, want 1 (refreshed every %v)", sink.listCalls, DefaultShardMapRefresh)
	}
	sink.mu.Unlock()
}

func TestProducerResendsMisroutedAggregates(t *testing.T) {
	clk := engine.NewManualClock(t0)
	// The producer's first map predates a split of every shard in two.
	sink := newRoutingSink(evenShards("child-", 4), evenShards("parent-", 2), evenShards("child-", 4))
	p := New("agg", &seqGen{keys: 50}, sink, "stream", Config{Clock: clk, Rate: 3000, Aggregate: true})
	drive(p, clk, time.Second, 10*time.Millisecond)
	settle(t, p, clk)
	s := p.Stats()
	users, _, dropped, _ := sink.delivered()
	if s.Misrouted == 0 || dropped == 0 {
		t.Fatalf("misrouted %d, dropped by consumers %d: the stale map should have misrouted aggregates", s.Misrouted, dropped)
	}
	if s.Sent+s.GivenUp != s.Generated || s.GivenUp != 0 {
		t.Errorf("generated %d, sent %d, given up %d", s.Generated, s.Sent, s.GivenUp)
	}
	if len(users) != int(s.Generated) {
		t.Errorf("consumers see %d distinct user records, want all %d", len(users), s.Generated)
	}
	for d, n := range users {
		if n != 1 {
			t.Errorf("user record %s delivered %d times", d, n)
		}
	}
}

func TestAggregationWithoutAShardMapGroupsByKey(t *testing.T) {
	clk := engine.NewManualClock(t0)
	sink := newRoutingSink(evenShards("shard-", 4))
	sink.listErr = errors.New("ListShards denied")
	p := New("agg", &seqGen{keys: 5}, sink, "stream", Config{Clock: clk, Rate: 1000})
	if p.Stats().Aggregating || !p.ToggleAggregate() || !p.Stats().Aggregating {
		t.Fatalf("ToggleAggregate did not switch aggregation on")
	}
	drive(p, clk, time.Second, 10*time.Millisecond)
	settle(t, p, clk)
	users, _, dropped, keys := sink.delivered()
	s := p.Stats()
	if dropped != 0 || len(users) != int(s.Generated) || s.Aggregates == 0 {
		t.Errorf("%d distinct of %d, %d dropped, %d aggregates", len(users), s.Generated, dropped, s.Aggregates)
	}
	for _, ks := range keys {
		for _, k := range ks {
			if k != ks[0] {
				t.Fatalf("an aggregate mixes keys without a shard map: %v", ks)
			}
		}
	}
	if !strings.Contains(s.LastError, "ListShards denied") {
		t.Errorf("LastError: got %q, want the shard map failure", s.LastError)
	}
	p.SetAggregate(false)
	if p.Stats().Aggregating {
		t.Errorf("SetAggregate(false) left aggregation on")
	}
}
