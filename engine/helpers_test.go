package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/shardscope/shardscope/storage"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type testEnv struct {
	t     testing.TB
	path  string
	db    *storage.DB
	e     *Engine
	clock *ManualClock
	opts  Options
}

// newEnv opens an engine over a store in a temp dir with a manual clock and
// no background trimmer; the store is checked for consistency at cleanup.
func newEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	env := &testEnv{t: t, path: filepath.Join(t.TempDir(), "test.db"), clock: NewManualClock(t0)}
	if opts.Clock == nil {
		opts.Clock = env.clock
	}
	if opts.RetentionInterval == 0 {
		opts.RetentionInterval = -1
	}
	if opts.ScaleInterval == 0 {
		opts.ScaleInterval = -1 // tests call EvaluateScaling
	}
	env.opts = opts
	env.open()
	t.Cleanup(env.close)
	return env
}

func (env *testEnv) open() {
	env.t.Helper()
	db, err := storage.Open(env.path, storage.Options{Sync: storage.SyncNone})
	if err != nil {
		env.t.Fatalf("open store: %v", err)
	}
	e, err := New(db, env.opts)
	if err != nil {
		env.t.Fatalf("new engine: %v", err)
	}
	env.db, env.e = db, e
}

func (env *testEnv) close() {
	if env.e == nil {
		return
	}
	env.e.Close()
	if err := env.db.Check(); err != nil {
		env.t.Errorf("store check: %v", err)
	}
	env.db.Close()
	env.e, env.db = nil, nil
}

func (env *testEnv) reopen() {
	env.close()
	env.open()
}

var ctx = context.Background()

func (env *testEnv) create(name string, shards int) {
	env.t.Helper()
	if err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: name, ShardCount: shards}); err != nil {
		env.t.Fatalf("create %s: %v", name, err)
	}
}

func (env *testEnv) put(stream, key string, data string) PutRecordOutput {
	env.t.Helper()
	out, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: stream}, PartitionKey: key, Data: []byte(data)})
	if err != nil {
		env.t.Fatalf("put %s: %v", key, err)
	}
	return out
}

func (env *testEnv) iter(stream, shard string, typ IteratorType, seq string, ts time.Time) string {
	env.t.Helper()
	it, err := env.e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: stream}, ShardID: shard, ShardIteratorType: typ, StartingSequenceNumber: seq, Timestamp: ts})
	if err != nil {
		env.t.Fatalf("iterator %s %s: %v", shard, typ, err)
	}
	return it
}

// readAll reads a shard from an iterator until it is caught up or ended.
func (env *testEnv) readAll(it string) (recs []Record, next string, children []ChildShard) {
	env.t.Helper()
	for i := 0; i < 1000; i++ {
		out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
		if err != nil {
			env.t.Fatalf("get records: %v", err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == "" {
			return recs, "", out.ChildShards
		}
		it = out.NextShardIterator
		if len(out.Records) == 0 {
			return recs, it, nil
		}
	}
	env.t.Fatal("readAll did not finish")
	return
}

func (env *testEnv) shards(stream string) []Shard {
	env.t.Helper()
	out, err := env.e.ListShards(ctx, ListShardsInput{StreamRef: StreamRef{StreamName: stream}})
	if err != nil {
		env.t.Fatalf("list shards: %v", err)
	}
	return out.Shards
}

func wantCode(t testing.TB, err error, code ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s (%s), want %s", e.Code, e.Message, code)
	}
}

// lineageReader reads a whole stream the way a careful consumer does:
// a shard only after all its listed parents have been read to their end.
func (env *testEnv) lineageReader(stream string) []Record {
	env.t.Helper()
	shards := env.shards(stream)
	byID := map[string]Shard{}
	for _, s := range shards {
		byID[s.ShardID] = s
	}
	done := map[string]bool{}
	var out []Record
	for progress := true; progress; {
		progress = false
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			s := byID[id]
			if done[id] {
				continue
			}
			ready := true
			for _, p := range []string{s.ParentShardID, s.AdjacentParentShardID} {
				if _, listed := byID[p]; p != "" && listed && !done[p] {
					ready = false
				}
			}
			if !ready {
				continue
			}
			recs, next, _ := env.readAll(env.iter(stream, id, TrimHorizon, "", time.Time{}))
			out = append(out, recs...)
			if next != "" && !s.Open() {
				env.t.Fatalf("closed shard %s read without reaching its end", id)
			}
			done[id] = true
			progress = true
		}
	}
	if len(done) != len(byID) {
		env.t.Fatalf("lineage reader finished %d of %d shards", len(done), len(byID))
	}
	return out
}

func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func key(i int) string { return fmt.Sprintf("key-%d", i) }
