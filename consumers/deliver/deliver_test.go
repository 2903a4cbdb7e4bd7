package deliver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

const testStream = "orders"

// newEngine opens a real engine over a store in a temp dir with one
// stream of the given shard count.
func newEngine(t testing.TB, shards int) *engine.Engine {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "x.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := engine.New(db, engine.Options{RetentionInterval: -1, ScaleInterval: -1, DisableLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CreateStream(context.Background(), engine.CreateStreamInput{StreamName: testStream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	return e
}

// put writes records "r<from>".."r<to-1>" with varied keys.
func put(t testing.TB, e *engine.Engine, from, to int) {
	t.Helper()
	for from < to {
		n := min(500, to-from)
		entries := make([]engine.PutRecordsEntry, n)
		for i := range entries {
			entries[i] = engine.PutRecordsEntry{Data: []byte(fmt.Sprintf(`{"id":%d,"user":"u%d"}`, from+i, (from+i)%17)), PartitionKey: fmt.Sprintf("k%d", from+i)}
		}
		out, err := e.PutRecords(context.Background(), engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: testStream}, Records: entries})
		if err != nil || out.FailedRecordCount > 0 {
			t.Fatalf("put: %v (%d failed)", err, out.FailedRecordCount)
		}
		from += n
	}
}

// fastConfig reads quickly so tests do not wait on the defaults.
func fastConfig() consumers.Config {
	return consumers.Config{PollInterval: 20 * time.Millisecond, MinReadInterval: -1, RelistInterval: 200 * time.Millisecond}
}

// runApp starts a delivery app; the returned stop ends it gracefully.
func runApp(t testing.TB, e consumers.Source, set Settings, dest Destination, cps consumers.CheckpointStore) (*Deliverer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	app, d, err := NewApp(ctx, "deliver", testStream, set, dest, e, cps, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return d, stop
}

// dirRecords reads every object under root (gunzipping .gz) and returns
// its lines, and the object keys.
func dirRecords(t testing.TB, root string) (lines []string, keys []string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		keys = append(keys, filepath.ToSlash(rel))
		lines = append(lines, objectLines(t, rel, b)...)
		return nil
	})
	return lines, keys
}

func objectLines(t testing.TB, key string, b []byte) []string {
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", key)
	}
	return strings.Split(string(b[:len(b)-1]), "\n")
}

// checkOnce checks that lines are records 0..n-1 of put, each once.
func checkOnce(t testing.TB, lines []string, n int) {
	t.Helper()
	seen := make(map[string]int, n)
	for _, l := range lines {
		seen[l]++
	}
	for i := range n {
		l := fmt.Sprintf(`{"id":%d,"user":"u%d"}`, i, i%17)
		if seen[l] != 1 {
			t.Fatalf("record %d delivered %d times", i, seen[l])
		}
	}
	if len(lines) != n {
		t.Fatalf("%d lines delivered, want %d", len(lines), n)
	}
}

func waitFor(t testing.TB, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s: %s", what, state())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var keyShape = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/orders-delivery-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(\.gz)?$`)

func TestDirectoryGetsEveryRecordOnceInFirehoseKeys(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			e := newEngine(t, 2)
			root := t.TempDir()
			dest, err := NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			// A 1 MiB buffer fills with about 30,000 of these records: the
			// first 2,000 go by the interval, the next 60,000 by size too.
			d, _ := runApp(t, e, Settings{BufferSizeMiB: 1, BufferInterval: time.Second, GZIP: gz}, dest, consumers.NewMemoryCheckpoints())
			put(t, e, 0, 2000)
			waitFor(t, "2,000 records", func() bool { return d.Stats().Records >= 2000 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
			put(t, e, 2000, 62000)
			waitFor(t, "62,000 records", func() bool { return d.Stats().Records >= 62000 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
			lines, keys := dirRecords(t, root)
			checkOnce(t, lines, 62000)
			for _, k := range keys {
				if !keyShape.MatchString(k) || strings.HasSuffix(k, ".gz") != gz {
					t.Fatalf("object key %q is not Firehose's layout", k)
				}
			}
			if st := d.Stats(); st.Objects != int64(len(keys)) || st.Bytes == 0 || st.LastDelivery.IsZero() {
				t.Fatalf("stats %+v for %d objects", st, len(keys))
			}
		})
	}
}

// dyingDest is a destination whose process dies after a delivery: once
// armed, the next delivery is written but never reported back, and every
// later one fails — a crash between a delivery and its checkpoint.
type dyingDest struct {
	Destination
	armed, dead atomic.Bool
}

func (d *dyingDest) Deliver(ctx context.Context, b Batch) (Result, error) {
	if d.dead.Load() {
		return Result{}, errors.New("the process is gone")
	}
	if d.armed.Load() {
		d.Destination.Deliver(ctx, b)
		d.dead.Store(true)
		return Result{}, errors.New("the process is gone")
	}
	return d.Destination.Deliver(ctx, b)
}

// A batch delivered but not checkpointed (the process died in between) is
// delivered again after a restart, cut differently (more records wait by
// then): its object has the same key and replaces the first, so no record
// is there twice.
func TestRedeliveryAfterACrashReplacesTheObject(t *testing.T) {
	e := newEngine(t, 1)
	root := t.TempDir()
	dir, _ := NewDir(root)
	dest := &dyingDest{Destination: dir}
	cps := consumers.NewMemoryCheckpoints()
	d, stop := runApp(t, e, Settings{BufferSizeMiB: 1, BufferInterval: 0}, dest, cps)
	put(t, e, 0, 300)
	waitFor(t, "the first 300", func() bool { return d.Stats().Records >= 300 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	dest.armed.Store(true)
	put(t, e, 300, 500)
	waitFor(t, "the crash", dest.dead.Load, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	stop()
	lines, before := dirRecords(t, root)
	checkOnce(t, lines, 500)

	// The restart reads from the last checkpoint (after record 299) and,
	// with more records waiting, cuts a bigger first batch.
	put(t, e, 500, 1000)
	d2, _ := runApp(t, e, Settings{BufferSizeMiB: 1, BufferInterval: 0}, dir, cps)
	waitFor(t, "all 1,000", func() bool { return d2.Stats().Records >= 700 }, func() string { return fmt.Sprintf("%+v", d2.Stats()) })
	lines, after := dirRecords(t, root)
	checkOnce(t, lines, 1000)
	if len(after) != len(before) {
		t.Fatalf("objects before the restart %v, after %v: the repeat should replace one", before, after)
	}
}

// Children are delivered only after their parent's last batch: the parent
// checkpoints SHARD_END once everything of it is delivered.
func TestSplitDeliversParentsBeforeChildren(t *testing.T) {
	e := newEngine(t, 1)
	root := t.TempDir()
	dest, _ := NewDir(root)
	d, _ := runApp(t, e, Settings{BufferSizeMiB: 1, BufferInterval: 0}, dest, consumers.NewMemoryCheckpoints())
	put(t, e, 0, 500)
	ls, _ := e.ListShards(context.Background(), engine.ListShardsInput{StreamRef: engine.StreamRef{StreamName: testStream}})
	if err := e.SplitShard(context.Background(), engine.SplitShardInput{
		StreamRef: engine.StreamRef{StreamName: testStream}, ShardToSplit: ls.Shards[0].ShardID,
		NewStartingHashKey: "170141183460469231731687303715884105728",
	}); err != nil {
		t.Fatal(err)
	}
	put(t, e, 500, 1000)
	waitFor(t, "all 1,000", func() bool { return d.Stats().Records >= 1000 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	lines, _ := dirRecords(t, root)
	checkOnce(t, lines, 1000)
}

func TestSettingsAreCheckedAsFirehoseDoes(t *testing.T) {
	for _, tc := range []struct {
		set  Settings
		want string
	}{
		{Settings{BufferSizeMiB: 129}, "outside 1–128"},
		{Settings{BufferInterval: 901 * time.Second}, "outside 0–900"},
		{Settings{BufferInterval: 1500 * time.Millisecond}, "whole seconds"},
		{Settings{Prefix: "a/!{timestamp:yyyy"}, "not closed"},
		{Settings{Prefix: "!{partitionKeyFromQuery:x}/"}, "unknown expression"},
		{Settings{Prefix: "!{timestamp:yyyy-QQ}/"}, "not supported"},
	} {
		err := tc.set.check("s")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ValidationException") {
			t.Errorf("%+v: %v, want ValidationException saying %q", tc.set, err, tc.want)
		}
	}
	set := Settings{}
	if err := set.check("s"); err != nil || set.BufferSizeMiB != 5 || set.BufferInterval != 0 || set.Name != "s-delivery" {
		t.Fatalf("defaults %+v, %v", set, err)
	}
}

func TestObjectKeys(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 4, 5, 0, time.UTC)
	rec := consumers.UserRecord{Record: engine.Record{SequenceNumber: "123", ApproximateArrivalTimestamp: at}}
	for _, tc := range []struct{ prefix, want string }{
		{"", "2026/12/03/07/s-delivery-1-2026-12-03-07-04-05-"},
		{"logs/", "logs/2026/12/03/07/s-delivery-1-2026-12-03-07-04-05-"},
		{"myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/", "myPrefix/year=2026/month=12/s-delivery-1-"},
		{"!{timestamp:yyyy'/day='dd}/", "2026/day=03/s-delivery-1-"},
	} {
		set := Settings{Name: "s-delivery", Prefix: tc.prefix}
		k, err := objectKey(set, "s", "shardId-000000000001", rec)
		if err != nil || !strings.HasPrefix(k, tc.want) {
			t.Errorf("prefix %q: key %q (%v), want it to start %q", tc.prefix, k, err, tc.want)
		}
		again, _ := objectKey(set, "s", "shardId-000000000001", rec)
		other, _ := objectKey(set, "s", "shardId-000000000002", rec)
		if again != k || other == k {
			t.Errorf("prefix %q: keys %q, %q (again), %q (other shard)", tc.prefix, k, again, other)
		}
	}
}

func engineRecord(seq, data string) engine.Record {
	return engine.Record{SequenceNumber: seq, Data: []byte(data), PartitionKey: "k", ApproximateArrivalTimestamp: time.Now()}
}
