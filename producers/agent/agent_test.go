package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

const testStream = "logs"

// newEngine opens a real engine over a store in a temp dir with one
// stream of the given shard count.
func newEngine(t testing.TB, shards int, limits bool) *engine.Engine {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "x.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := engine.New(db, engine.Options{RetentionInterval: -1, ScaleInterval: -1, DisableLimits: !limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CreateStream(context.Background(), engine.CreateStreamInput{StreamName: testStream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	return e
}

// streamRecords reads every record of the stream, shard by shard, in
// sequence order within each shard.
func streamRecords(t testing.TB, e *engine.Engine) []engine.Record {
	t.Helper()
	ctx := context.Background()
	ls, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: engine.StreamRef{StreamName: testStream}})
	if err != nil {
		t.Fatal(err)
	}
	var all []engine.Record
	for _, sh := range ls.Shards {
		var it string
		for {
			it, err = e.GetShardIterator(ctx, engine.GetShardIteratorInput{
				StreamRef: engine.StreamRef{StreamName: testStream}, ShardID: sh.ShardID, ShardIteratorType: engine.TrimHorizon,
			})
			if !engine.IsCode(err, engine.ProvisionedThroughputExceededException) {
				break
			}
			time.Sleep(50 * time.Millisecond) // the shard's 5 calls/s
		}
		if err != nil {
			t.Fatal(err)
		}
		for it != "" {
			out, err := e.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it})
			if engine.IsCode(err, engine.ProvisionedThroughputExceededException) {
				time.Sleep(50 * time.Millisecond) // the shard's 5 reads/s
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out.Records...)
			if len(out.Records) == 0 || out.MillisBehindLatest == 0 {
				break
			}
			it = out.NextShardIterator
		}
	}
	return all
}

// waitRecords waits until the stream holds at least n records.
func waitRecords(t testing.TB, e *engine.Engine, n int, stats func() string) []engine.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs := streamRecords(t, e)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d records, want %d (%s)", len(recs), n, stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runAgent starts an agent on cfg and returns a function that stops it
// and waits for Run to return.
func runAgent(t testing.TB, cfg *Config, e *engine.Engine) (*Agent, func()) {
	t.Helper()
	a, err := New(cfg, e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// waitParsed waits until the agent has cut n records from its files.
func waitParsed(t testing.TB, a *Agent, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.Stats()[0].Parsed < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent parsed %d records, want %d", a.Stats()[0].Parsed, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func statsText(a *Agent) func() string {
	return func() string { return fmt.Sprintf("%+v", a.Stats()) }
}

// testConfig is one flow over dir/pattern with quick polls and a 1 s
// buffer age (the agent's minimum).
func testConfig(t testing.TB, dir, pattern string, extra string) *Config {
	t.Helper()
	text := fmt.Sprintf(`{
		"checkpointFile": %q,
		"flows": [{
			"filePattern": %q,
			"kinesisStream": %q,
			"initialPosition": "START_OF_FILE",
			"maxBufferAgeMillis": 1000,
			"minTimeBetweenFilePollsMillis": 5,
			"retryInitialBackoffMillis": 5,
			"retryMaxBackoffMillis": 50%s
		}]
	}`, filepath.Join(dir, "ckpt", "checkpoints.json"), filepath.Join(dir, pattern), testStream, extra)
	cfg, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checkOnceInOrder checks that the stream holds every line of want exactly
// once and, within each shard, each file's lines in the order written
// (lines are "FILE SEQ").
func checkOnceInOrder(t testing.TB, recs []engine.Record, want map[string]int) {
	t.Helper()
	seen := map[string]int{}
	last := map[string]int{}
	total := 0
	for _, r := range recs {
		var file string
		var seq int
		if _, err := fmt.Sscanf(string(r.Data), "%s %d\n", &file, &seq); err != nil {
			t.Fatalf("record %q: %v", r.Data, err)
		}
		key := fmt.Sprintf("%s %d", file, seq)
		seen[key]++
		if seen[key] > 1 {
			t.Fatalf("line %q arrived %d times", key, seen[key])
		}
		if p, ok := last[file]; ok && seq <= p {
			t.Fatalf("file %s: line %d after line %d", file, seq, p)
		}
		last[file] = seq
		total++
	}
	n := 0
	for file, lines := range want {
		for i := range lines {
			if seen[fmt.Sprintf("%s %d", file, i)] != 1 {
				t.Fatalf("line %s %d arrived %d times", file, i, seen[fmt.Sprintf("%s %d", file, i)])
			}
		}
		n += lines
	}
	if total != n {
		t.Fatalf("%d records, want %d", total, n)
	}
}

func appendLines(t testing.TB, path, file string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %d\n", file, i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// A file rotated by rename 100 times while it is written: every line
// arrives once, each file's lines in order. The pattern matches the
// current name only, so a rotated file leaves the pattern and the agent
// must finish it through the descriptor it holds.
func TestRenameRotationUnderLoadLosesAndRepeatsNothing(t *testing.T) {
	for _, pattern := range []string{"app.log", "app.log*"} {
		t.Run(pattern, func(t *testing.T) {
			e := newEngine(t, 1, false)
			dir := t.TempDir()
			a, _ := runAgent(t, testConfig(t, dir, pattern, ""), e)
			path := filepath.Join(dir, "app.log")
			want := map[string]int{}
			const rotations, perFile = 100, 50
			for gen := 0; gen <= rotations; gen++ {
				file := fmt.Sprintf("f%03d", gen)
				// Written in a few appends, so the agent reads files while
				// they are written. Once it has read the first lines it
				// holds the file: the rest, and the rename, come right after.
				appendLines(t, path, file, 0, 10)
				waitParsed(t, a, gen*perFile+1)
				for part := 10; part < perFile; part += 10 {
					appendLines(t, path, file, part, part+10)
				}
				want[file] = perFile
				if gen < rotations {
					if err := os.Rename(path, filepath.Join(dir, fmt.Sprintf("app.log.%d", gen))); err != nil {
						t.Fatal(err)
					}
				}
			}
			total := (rotations + 1) * perFile
			checkOnceInOrder(t, waitRecords(t, e, total, statsText(a)), want)
		})
	}
}

// copytruncate: the file is cut back to nothing and written again; the
// agent starts it over without repeating what it sent before.
func TestTruncatedFileStartsOver(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	a, _ := runAgent(t, testConfig(t, dir, "app.log", ""), e)
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "before", 0, 40)
	waitRecords(t, e, 40, statsText(a))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	// Wait until the agent saw the truncation (it polls every 5 ms), so the
	// new lines do not grow the file past the old size first.
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats()[0].BytesBehind != 0 || !truncSeen(a) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not notice the truncation: %+v", a.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	appendLines(t, path, "after", 0, 25)
	checkOnceInOrder(t, waitRecords(t, e, 65, statsText(a)), map[string]int{"before": 40, "after": 25})
}

func truncSeen(a *Agent) bool {
	for _, fr := range a.flows {
		fr.mu.Lock()
		n := fr.truncations
		fr.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// Stopped, the file written on and rotated, started again: the agent
// resumes the rotated file at its checkpoint and reads the new one whole.
func TestRotatedWhileTheAgentIsDown(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	cfg := testConfig(t, dir, "app.log*", "")
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "one", 0, 30)
	a, stop := runAgent(t, cfg, e)
	waitRecords(t, e, 30, statsText(a))
	stop()

	appendLines(t, path, "one", 30, 60)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "two", 0, 20)

	a, _ = runAgent(t, testConfig(t, dir, "app.log*", ""), e)
	checkOnceInOrder(t, waitRecords(t, e, 80, statsText(a)), map[string]int{"one": 60, "two": 20})
}

// initialPosition END_OF_FILE: a first start skips what the files hold
// (back to the last whole line) and sends only what comes after.
func TestEndOfFileSkipsWhatWasThere(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "old", 0, 10)
	cfg := testConfig(t, dir, "app.log", "")
	cfg.Flows[0].StartAtEnd = true
	a, _ := runAgent(t, cfg, e)
	// Wait for the first scan, which sets the start.
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats()[0].Files == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no file found")
		}
		time.Sleep(5 * time.Millisecond)
	}
	appendLines(t, path, "new", 0, 5)
	recs := waitRecords(t, e, 5, statsText(a))
	checkOnceInOrder(t, recs, map[string]int{"new": 5})
}

// A throttling stream: refused records are sent again until all are in,
// each once.
func TestRefusedRecordsAreResent(t *testing.T) {
	e := newEngine(t, 1, true) // 1,000 records/s per shard
	dir := t.TempDir()
	a, _ := runAgent(t, testConfig(t, dir, "app.log", ""), e)
	appendLines(t, filepath.Join(dir, "app.log"), "burst", 0, 3000)
	recs := waitRecords(t, e, 3000, statsText(a))
	if a.Stats()[0].Resent == 0 {
		t.Fatalf("3,000 records in one burst to a 1,000 records/s shard were never refused: %+v", a.Stats())
	}
	// Order within the file is kept only as far as PutRecords allows: a
	// refused record goes again after the ones the same call took.
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[string(r.Data)] {
			t.Fatalf("%q arrived twice", r.Data)
		}
		seen[string(r.Data)] = true
	}
	if len(seen) != 3000 {
		t.Fatalf("%d distinct lines, want 3000", len(seen))
	}
}

// maxRecordsPerSecond paces the flow: the agent's own limiter, not the
// stream's, holds it back.
func TestOwnRateLimit(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	cfg := testConfig(t, dir, "app.log", `, "maxRecordsPerSecond": 200`)
	a, _ := runAgent(t, cfg, e)
	appendLines(t, filepath.Join(dir, "app.log"), "paced", 0, 600)
	start := time.Now()
	waitRecords(t, e, 600, statsText(a))
	// 600 records at 200/s with a burst of 200: at least 2 s.
	if el := time.Since(start); el < 1900*time.Millisecond {
		t.Fatalf("600 records at 200/s took %v", el)
	}
}

// Multi-line records, header lines and processing, end to end.
func TestMultiLineHeaderAndProcessing(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	cfg := testConfig(t, dir, "app.log", `,
		"skipHeaderLines": 1,
		"multiLineStartPattern": "^\\d{4}-",
		"dataProcessingOptions": [{"optionName": "SINGLELINE"}]`)
	a, _ := runAgent(t, cfg, e)
	text := "HEADER\n" +
		"2026-12-03 boom\n  at a()\n  at b()\n" +
		"2026-12-03 fine\n"
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// The second record has no successor: it goes once the file is idle.
	recs := waitRecords(t, e, 2, statsText(a))
	got := []string{string(recs[0].Data), string(recs[1].Data)}
	want := []string{"2026-12-03 boomat a()at b()\n", "2026-12-03 fine\n"}
	if got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("records %q, want %q", got, want)
	}
}

// END_OF_FILE applies to the first start only: the positions it chose are
// kept at once, so lines written while a stopped agent had sent nothing
// yet are sent after its restart, and a file that appeared meanwhile is
// read whole.
func TestEndOfFileIsForTheFirstStartOnly(t *testing.T) {
	e := newEngine(t, 1, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "old", 0, 10)
	cfg := func() *Config {
		c := testConfig(t, dir, "*.log", "")
		c.Flows[0].StartAtEnd = true
		return c
	}
	a, stop := runAgent(t, cfg(), e)
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats()[0].Files == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no file found")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	appendLines(t, path, "new", 0, 5)
	appendLines(t, filepath.Join(dir, "other.log"), "other", 0, 3)
	a, _ = runAgent(t, cfg(), e)
	checkOnceInOrder(t, waitRecords(t, e, 8, statsText(a)), map[string]int{"new": 5, "other": 3})
}
