package trigger

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

const testStream = "orders"

// t0 has milliseconds, to see them in approximateArrivalTimestamp.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 987_000_000, time.UTC)

// newEngine opens a real engine over a store in a temp dir, on clock,
// with a stream of n shards.
func newEngine(t testing.TB, clock engine.Clock, shards int) *engine.Engine {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "x.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := engine.New(db, engine.Options{Clock: clock, RetentionInterval: -1, ScaleInterval: -1, DisableLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CreateStream(context.Background(), engine.CreateStreamInput{StreamName: testStream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	return e
}

// put writes records (key, data) and returns their sequence numbers.
func put(t testing.TB, e *engine.Engine, kv ...string) []string {
	t.Helper()
	in := engine.PutRecordsInput{StreamRef: engine.StreamRef{StreamName: testStream}}
	for i := 0; i < len(kv); i += 2 {
		in.Records = append(in.Records, engine.PutRecordsEntry{PartitionKey: kv[i], Data: []byte(kv[i+1])})
	}
	out, err := e.PutRecords(context.Background(), in)
	if err != nil || out.FailedRecordCount != 0 {
		t.Fatalf("PutRecords: %v (%d failed)", err, out.FailedRecordCount)
	}
	seqs := make([]string, len(out.Records))
	for i, r := range out.Records {
		seqs[i] = r.SequenceNumber
	}
	return seqs
}

// testSettings reads from the trim horizon with short pauses.
func testSettings(clock engine.Clock) Settings {
	s := DefaultSettings(testStream)
	s.FunctionName = "audit"
	s.StartingPosition = TrimHorizon
	s.RetryBackoff = time.Millisecond
	s.Consumer = consumers.Config{
		PollInterval:       2 * time.Millisecond,
		MinReadInterval:    -1,
		RelistInterval:     20 * time.Millisecond,
		Clock:              clock,
		LeaseDuration:      time.Hour,
		LeaseCheckInterval: 5 * time.Millisecond,
	}
	return s
}

// call is one invocation as the function saw it.
type call struct {
	ev         Event
	checkpoint string // the shard's checkpoint when the call came
}

// recorder is an in-process function: it logs each event and answers
// with reply (nil: success, empty reply).
type recorder struct {
	cps   *consumers.MemoryCheckpoints
	app   string
	reply func(n int, ev Event) ([]byte, error)

	mu    sync.Mutex
	calls []call
}

func (r *recorder) Invoke(_ context.Context, body []byte) ([]byte, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, err
	}
	c := call{ev: ev}
	if r.cps != nil && len(ev.Records) > 0 {
		shard, _, _ := strings.Cut(ev.Records[0].EventID, ":")
		c.checkpoint, _ = r.cps.Load(context.Background(), r.app, shard)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	n := len(r.calls)
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(n, ev)
	}
	return nil, nil
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func data(ev Event) []string {
	out := make([]string, len(ev.Records))
	for i, r := range ev.Records {
		out[i] = string(r.Kinesis.Data)
	}
	return out
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// start runs tr; the returned stop ends it and waits for Run.
func start(t testing.TB, tr *Trigger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newTrigger(t testing.TB, e *engine.Engine, s Settings, inv Invoker, cps consumers.CheckpointStore) *Trigger {
	t.Helper()
	tr, err := New(e, nil, cps, s, inv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestEventIsLambdasKinesisEvent(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	seq := put(t, e, "1", "Hello, this is a test.")[0]
	s := testSettings(clock)
	s.Region, s.AccountID = "us-east-2", "123456789012"
	var mu sync.Mutex
	var got []byte
	inv := InvokerFunc(func(_ context.Context, body []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if got == nil {
			got = append([]byte(nil), body...)
		}
		return nil, nil
	})
	start(t, newTrigger(t, e, s, inv, nil))
	waitFor(t, 5*time.Second, "an invocation", func() bool { mu.Lock(); defer mu.Unlock(); return got != nil })
	want := `{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"1",` +
		`"sequenceNumber":"` + seq + `","data":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==","approximateArrivalTimestamp":1772366400.987},` +
		`"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:` + seq + `",` +
		`"eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/lambda-role",` +
		`"awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/orders"}]}`
	mu.Lock()
	defer mu.Unlock()
	if string(got) != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}
	// The fields, one by one, as a handler reads them.
	var ev map[string]any
	if err := json.Unmarshal(got, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 {
		t.Errorf("top-level keys %v, want only Records", ev)
	}
	k := ev["Records"].([]any)[0].(map[string]any)["kinesis"].(map[string]any)
	if ts, ok := k["approximateArrivalTimestamp"].(float64); !ok || ts != 1772366400.987 {
		t.Errorf("approximateArrivalTimestamp = %v, want the number 1772366400.987", k["approximateArrivalTimestamp"])
	}
	if _, ok := k["sequenceNumber"].(string); !ok {
		t.Errorf("sequenceNumber is not a string: %v", k["sequenceNumber"])
	}
}

func TestBatchSize(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	var kv []string
	for i := range 10 {
		kv = append(kv, "k", fmt.Sprint(i))
	}
	put(t, e, kv...)
	clock.Advance(2500 * time.Millisecond)
	s := testSettings(clock)
	s.BatchSize = 3
	r := &recorder{}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	waitFor(t, 5*time.Second, "10 records", func() bool { return tr.Stats().Total.Records == 10 })
	st := tr.Stats()
	if st.Total.IteratorAgeMillis != 2500 || st.Shards[0].IteratorAgeMillis != 2500 || st.Total.Invocations != 4 || st.InvocationsPerSecond != 0.4 {
		t.Errorf("stats %+v: want IteratorAge 2500 ms, 4 invocations, 0.4/s over 10 s", st)
	}
	var sizes []int
	var all []string
	for _, c := range r.snapshot() {
		sizes = append(sizes, len(c.ev.Records))
		all = append(all, data(c.ev)...)
	}
	if fmt.Sprint(sizes) != "[3 3 3 1]" || strings.Join(all, ",") != "0,1,2,3,4,5,6,7,8,9" {
		t.Errorf("batches of %v with %v, want [3 3 3 1] in order", sizes, all)
	}
}

func TestBatchingWindow(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	s := testSettings(clock)
	s.BatchSize = 5
	s.MaximumBatchingWindowInSeconds = 10
	r := &recorder{}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	read := func(n int64) {
		t.Helper()
		waitFor(t, 5*time.Second, fmt.Sprintf("%d records read", n), func() bool { return tr.App().Stats().Records >= n })
	}
	put(t, e, "a", "1", "a", "2", "a", "3")
	read(3)
	if n := r.count(); n != 0 {
		t.Fatalf("%d invocations within the batching window with 3 of 5 records", n)
	}
	// A full batch goes at once; the rest waits for the window.
	put(t, e, "a", "4", "a", "5", "a", "6", "a", "7")
	read(7)
	waitFor(t, 5*time.Second, "the full batch", func() bool { return r.count() == 1 })
	if got := data(r.snapshot()[0].ev); strings.Join(got, ",") != "1,2,3,4,5" {
		t.Errorf("first batch %v, want 1..5", got)
	}
	if n := r.count(); n != 1 {
		t.Fatalf("%d invocations, want 1 before the window ends", n)
	}
	clock.Advance(10 * time.Second)
	waitFor(t, 5*time.Second, "the window's batch", func() bool { return r.count() == 2 })
	if got := data(r.snapshot()[1].ev); strings.Join(got, ",") != "6,7" {
		t.Errorf("second batch %v, want 6,7", got)
	}
}

func TestParallelizationFactorKeepsKeyOrder(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var kv []string
	for i := range 25 {
		for _, k := range keys {
			kv = append(kv, k, fmt.Sprintf("%s:%d", k, i))
		}
	}
	put(t, e, kv...)
	s := testSettings(clock)
	s.BatchSize = 4
	s.ParallelizationFactor = 4
	var (
		mu             sync.Mutex
		inflight, peak int
		next           = map[string]int{}
		bad            []string
		got            int
	)
	both := make(chan struct{})
	var bothOnce sync.Once
	inv := InvokerFunc(func(_ context.Context, body []byte) ([]byte, error) {
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, err
		}
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		if inflight >= 2 {
			bothOnce.Do(func() { close(both) })
		}
		for _, r := range ev.Records {
			k, n, _ := strings.Cut(string(r.Kinesis.Data), ":")
			if fmt.Sprint(next[k]) != n {
				bad = append(bad, fmt.Sprintf("%s got %s want %d", k, n, next[k]))
			}
			next[k]++
			got++
		}
		mu.Unlock()
		// The first calls wait (bounded) for a second one at the same time.
		select {
		case <-both:
		case <-time.After(2 * time.Second):
		}
		mu.Lock()
		inflight--
		mu.Unlock()
		return nil, nil
	})
	tr := newTrigger(t, e, s, inv, nil)
	start(t, tr)
	waitFor(t, 10*time.Second, "every record", func() bool { return tr.Stats().Total.Records == 200 })
	mu.Lock()
	defer mu.Unlock()
	if peak < 2 {
		t.Errorf("at most %d invocation at a time on one shard, want concurrent batches", peak)
	}
	if len(bad) > 0 || got != 200 {
		t.Errorf("%d records, out of order: %v", got, bad)
	}
}

// failures reads the on-failure file.
func failures(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("on-failure line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestBisectFindsThePoisonRecord(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	var kv []string
	for i := range 10 {
		d := fmt.Sprint(i)
		if i == 6 {
			d = "poison"
		}
		kv = append(kv, "k", d)
	}
	seqs := put(t, e, kv...)
	s := testSettings(clock)
	s.BatchSize = 10
	s.BisectBatchOnFunctionError = true
	s.MaximumRetryAttempts = 2
	s.OnFailure = filepath.Join(t.TempDir(), "failed.jsonl")
	r := &recorder{reply: func(_ int, ev Event) ([]byte, error) {
		for _, d := range data(ev) {
			if d == "poison" {
				return nil, &FunctionError{Message: "a log line\n" + `{"errorType":"Error","errorMessage":"poison","trace":[]}`}
			}
		}
		return nil, nil
	}}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	waitFor(t, 10*time.Second, "the on-failure record", func() bool { return tr.Stats().Total.OnFailure == 1 })
	waitFor(t, 5*time.Second, "the checkpoint", func() bool { return tr.Stats().Shards[0].Checkpoint == seqs[9] })

	ok := map[string]int{}
	for _, c := range r.snapshot() {
		d := data(c.ev)
		if !strings.Contains(strings.Join(d, ","), "poison") {
			for _, x := range d {
				ok[x]++
			}
		}
	}
	for i := range 10 {
		if i != 6 && ok[fmt.Sprint(i)] != 1 {
			t.Errorf("record %d processed %d times, want 1", i, ok[fmt.Sprint(i)])
		}
	}
	fs := failures(t, s.OnFailure)
	if len(fs) != 1 {
		t.Fatalf("%d on-failure records, want 1", len(fs))
	}
	info := fs[0]["KinesisBatchInfo"].(map[string]any)
	if info["startSequenceNumber"] != seqs[6] || info["endSequenceNumber"] != seqs[6] || info["batchSize"] != 1.0 {
		t.Errorf("on-failure batch %v, want only the poison record %s", info, seqs[6])
	}
	st := tr.Stats().Total
	if st.Retries < 3 || st.Errors < 3 || st.LastError != "Error: poison" {
		t.Errorf("stats %+v: want retries, errors and the last error text", st)
	}
}

func TestRetriesExhaustedWriteTheOnFailureRecord(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	seqs := put(t, e, "a", "1", "b", "2", "c", "3")
	s := testSettings(clock)
	s.Region, s.AccountID = "us-east-2", "123456789012"
	s.MaximumRetryAttempts = 2
	s.OnFailure = filepath.Join(t.TempDir(), "failed.jsonl")
	r := &recorder{reply: func(int, Event) ([]byte, error) { return nil, &FunctionError{Message: "boom"} }}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	waitFor(t, 10*time.Second, "the on-failure record", func() bool { return tr.Stats().Total.OnFailure == 1 })
	waitFor(t, 5*time.Second, "the checkpoint past the batch", func() bool { return tr.Stats().Shards[0].Checkpoint == seqs[2] })
	if n := r.count(); n != 3 {
		t.Errorf("%d invocations, want 3 (1 + MaximumRetryAttempts 2)", n)
	}
	fs := failures(t, s.OnFailure)
	if len(fs) != 1 {
		t.Fatalf("%d on-failure records, want 1", len(fs))
	}
	f := fs[0]
	rc := f["requestContext"].(map[string]any)
	if rc["functionArn"] != "arn:aws:lambda:us-east-2:123456789012:function:audit" || rc["condition"] != RetryAttemptsExhausted || rc["approximateInvokeCount"] != 3.0 || len(rc["requestId"].(string)) != 36 {
		t.Errorf("requestContext %v", rc)
	}
	if resp := f["responseContext"].(map[string]any); resp["statusCode"] != 200.0 || resp["executedVersion"] != "$LATEST" || resp["functionError"] != "Unhandled" {
		t.Errorf("responseContext %v", resp)
	}
	if f["version"] != "1.0" || f["timestamp"] != t0.Format(isoMillis) {
		t.Errorf("version %v timestamp %v", f["version"], f["timestamp"])
	}
	info := f["KinesisBatchInfo"].(map[string]any)
	wantInfo := map[string]any{
		"shardId": "shardId-000000000000", "startSequenceNumber": seqs[0], "endSequenceNumber": seqs[2],
		"approximateArrivalOfFirstRecord": "2026-03-01T12:00:00.987Z", "approximateArrivalOfLastRecord": "2026-03-01T12:00:00.987Z",
		"batchSize": 3.0, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/orders",
	}
	if fmt.Sprint(info) != fmt.Sprint(wantInfo) {
		t.Errorf("KinesisBatchInfo\n got %v\nwant %v", info, wantInfo)
	}
	if p := f["payload"].(map[string]any); len(p["Records"].([]any)) != 3 {
		t.Errorf("payload %v, want the 3 records' event", p)
	}
	var keys []string
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "KinesisBatchInfo,payload,requestContext,responseContext,timestamp,version" {
		t.Errorf("on-failure keys %v", keys)
	}
	st := tr.Stats().Total
	if st.Invocations != 3 || st.Errors != 3 || st.Retries != 2 || st.OnFailure != 1 || st.Discarded != 3 || st.LastError != "boom" {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchItemFailuresCheckpointBeforeTheFirstFailedItem(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	var kv []string
	for i := range 10 {
		kv = append(kv, "k", fmt.Sprint(i))
	}
	seqs := put(t, e, kv...)
	s := testSettings(clock)
	s.FunctionResponseTypes = []string{ReportBatchItemFailures}
	cps := consumers.NewMemoryCheckpoints()
	r := &recorder{cps: cps, app: "trigger-audit", reply: func(n int, ev Event) ([]byte, error) {
		if n == 1 {
			// Two failures: the lowest counts.
			return fmt.Appendf(nil, `{"batchItemFailures":[{"itemIdentifier":%q},{"itemIdentifier":%q}]}`, seqs[7], seqs[4]), nil
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}}
	tr := newTrigger(t, e, s, r, cps)
	start(t, tr)
	waitFor(t, 5*time.Second, "the retry", func() bool { return r.count() >= 2 })
	waitFor(t, 5*time.Second, "the final checkpoint", func() bool { return tr.Stats().Shards[0].Checkpoint == seqs[9] })
	calls := r.snapshot()
	if len(calls) != 2 {
		t.Fatalf("%d invocations, want 2", len(calls))
	}
	if got := strings.Join(data(calls[1].ev), ","); got != "4,5,6,7,8,9" {
		t.Errorf("retried %s, want 4..9", got)
	}
	if calls[1].checkpoint != seqs[3] {
		t.Errorf("checkpoint at the retry %q, want %q (the record before the first failed one)", calls[1].checkpoint, seqs[3])
	}
}

func TestMaximumRecordAge(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	seqs := put(t, e, "a", "1", "a", "2")
	s := testSettings(clock)
	s.MaximumRecordAgeInSeconds = 60
	s.OnFailure = filepath.Join(t.TempDir(), "failed.jsonl")
	r := &recorder{reply: func(int, Event) ([]byte, error) { return nil, &FunctionError{Message: "down"} }}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	waitFor(t, 5*time.Second, "retries", func() bool { return r.count() >= 3 })
	if tr.Stats().Total.OnFailure != 0 {
		t.Fatal("discarded before the records were too old")
	}
	clock.Advance(61 * time.Second)
	waitFor(t, 5*time.Second, "the records to expire", func() bool { return tr.Stats().Total.OnFailure == 1 })
	waitFor(t, 5*time.Second, "the checkpoint", func() bool { return tr.Stats().Shards[0].Checkpoint == seqs[1] })
	fs := failures(t, s.OnFailure)
	if len(fs) != 1 {
		t.Fatalf("%d on-failure records", len(fs))
	}
	if _, ok := fs[0]["responseContext"]; ok {
		t.Errorf("responseContext present for RecordAgeExceeded: %v", fs[0])
	}
	rc := fs[0]["requestContext"].(map[string]any)
	if rc["condition"] != RecordAgeExceeded || rc["approximateInvokeCount"].(float64) < 3 {
		t.Errorf("requestContext %v", rc)
	}
}

func TestTumblingWindowCarriesState(t *testing.T) {
	start0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := engine.NewManualClock(start0.Add(5 * time.Second))
	e := newEngine(t, clock, 1)
	s := testSettings(clock)
	s.TumblingWindowInSeconds = 60
	r := &recorder{reply: func(_ int, ev Event) ([]byte, error) {
		var st struct{ N int }
		if err := json.Unmarshal(ev.State, &st); err != nil {
			return nil, err
		}
		st.N += len(ev.Records)
		return json.Marshal(map[string]any{"state": st, "batchItemFailures": []any{}})
	}}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	put(t, e, "a", "1", "a", "2", "a", "3")
	waitFor(t, 5*time.Second, "the first invocation", func() bool { return r.count() == 1 })
	clock.Advance(10 * time.Second)
	put(t, e, "a", "4", "a", "5")
	waitFor(t, 5*time.Second, "the second invocation", func() bool { return r.count() == 2 })
	clock.Advance(50 * time.Second) // 12:01:05: the window is over
	waitFor(t, 5*time.Second, "the final invocation", func() bool { return r.count() == 3 })
	put(t, e, "a", "6")
	waitFor(t, 5*time.Second, "the next window", func() bool { return r.count() == 4 })

	calls := r.snapshot()
	type view struct {
		Records        int
		State          string
		Start, End     string
		Final, Early   bool
		Shard, ARNTail string
	}
	var got []view
	for _, c := range calls {
		v := view{Records: len(c.ev.Records), State: string(c.ev.State), Shard: c.ev.ShardID}
		if c.ev.Window != nil {
			v.Start, v.End = c.ev.Window.Start, c.ev.Window.End
		}
		if c.ev.IsFinalInvokeForWindow != nil {
			v.Final = *c.ev.IsFinalInvokeForWindow
		}
		if c.ev.IsWindowTerminatedEarly != nil {
			v.Early = *c.ev.IsWindowTerminatedEarly
		}
		v.ARNTail = c.ev.EventSourceARN[strings.LastIndex(c.ev.EventSourceARN, "/")+1:]
		got = append(got, v)
	}
	w1, w1e, w2, w2e := "2026-03-01T12:00:00Z", "2026-03-01T12:01:00Z", "2026-03-01T12:01:00Z", "2026-03-01T12:02:00Z"
	want := []view{
		{3, `{}`, w1, w1e, false, false, "shardId-000000000000", testStream},
		{2, `{"N":3}`, w1, w1e, false, false, "shardId-000000000000", testStream},
		{0, `{"N":5}`, w1, w1e, true, false, "shardId-000000000000", testStream},
		{1, `{}`, w2, w2e, false, false, "shardId-000000000000", testStream},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("invocations\n got %+v\nwant %+v", got, want)
	}
}

func TestTumblingWindowReplyWithoutStateFails(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	s := testSettings(clock)
	s.TumblingWindowInSeconds = 60
	r := &recorder{reply: func(n int, _ Event) ([]byte, error) {
		if n == 1 {
			return []byte(`{"batchItemFailures":[]}`), nil
		}
		return []byte(`{"state":{}}`), nil
	}}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	put(t, e, "a", "1")
	waitFor(t, 5*time.Second, "the retry", func() bool { return tr.Stats().Total.Records == 1 })
	st := tr.Stats().Total
	if r.count() != 2 || st.Errors != 1 || !strings.Contains(st.LastError, "state") {
		t.Errorf("%d invocations, stats %+v: want the stateless reply failed and retried", r.count(), st)
	}
}

func TestParentsBeforeChildrenAcrossASplit(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	keys := []string{"a", "b", "c", "d", "e", "f"}
	round := func(i int) {
		var kv []string
		for _, k := range keys {
			kv = append(kv, k, fmt.Sprintf("%s:%d", k, i))
		}
		put(t, e, kv...)
	}
	for i := range 5 {
		round(i)
	}
	out, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: engine.StreamRef{StreamName: testStream}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SplitShard(ctx, engine.SplitShardInput{StreamRef: engine.StreamRef{StreamName: testStream}, ShardToSplit: out.Shards[0].ShardID, NewStartingHashKey: engine.MidpointKey(out.Shards[0].HashKeyRange)}); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		round(i)
	}
	s := testSettings(clock)
	s.BatchSize = 7
	var (
		mu    sync.Mutex
		order []string // shard of each invocation
		next  = map[string]int{}
		bad   []string
	)
	inv := InvokerFunc(func(_ context.Context, body []byte) ([]byte, error) {
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		shard, _, _ := strings.Cut(ev.Records[0].EventID, ":")
		order = append(order, shard)
		for _, r := range ev.Records {
			k, n, _ := strings.Cut(string(r.Kinesis.Data), ":")
			if fmt.Sprint(next[k]) != n {
				bad = append(bad, fmt.Sprintf("%s got %s want %d", k, n, next[k]))
			}
			next[k]++
		}
		return nil, nil
	})
	tr := newTrigger(t, e, s, inv, nil)
	tr.app.Config() // (settings reach the app)
	start(t, tr)
	waitFor(t, 10*time.Second, "every record", func() bool { return tr.Stats().Total.Records == 60 })
	mu.Lock()
	defer mu.Unlock()
	lastParent, firstChild := -1, len(order)
	for i, sh := range order {
		if sh == "shardId-000000000000" {
			lastParent = i
		} else if i < firstChild {
			firstChild = i
		}
	}
	if lastParent > firstChild || firstChild == len(order) {
		t.Errorf("invocation order %v: the parent's batches must all come before the children's", order)
	}
	if len(bad) > 0 {
		t.Errorf("out of order per key: %v", bad)
	}
}

func TestStartingPositions(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 2)
	put(t, e, "a", "old1", "b", "old2")
	clock.Advance(time.Minute)
	from := clock.Now()
	put(t, e, "a", "new1", "b", "new2")
	for _, c := range []struct{ from, want string }{
		{"TRIM_HORIZON", "new1,new2,old1,old2"},
		{from.Format(time.RFC3339Nano), "new1,new2"},
		{"LATEST", "later"},
	} {
		s := testSettings(clock)
		s.FunctionName = "f" + strings.ReplaceAll(strings.ReplaceAll(c.from, ":", ""), "+", "")
		if len(s.FunctionName) > 20 {
			s.FunctionName = "at"
		}
		if err := s.SetFrom(c.from); err != nil {
			t.Fatal(err)
		}
		r := &recorder{}
		tr := newTrigger(t, e, s, r, nil)
		stop := start(t, tr)
		waitFor(t, 5*time.Second, "both shards read", func() bool { return tr.App().Stats().Count(consumers.StateReading) == 2 })
		want := len(strings.Split(c.want, ","))
		if c.from == "LATEST" {
			// A reader shown reading may not have its LATEST iterator yet:
			// put until one record arrives.
			deadline := time.Now().Add(5 * time.Second)
			for tr.Stats().Total.Records == 0 && time.Now().Before(deadline) {
				put(t, e, "a", "later")
				for i := 0; i < 50 && tr.Stats().Total.Records == 0; i++ {
					time.Sleep(2 * time.Millisecond)
				}
			}
		}
		waitFor(t, 5*time.Second, c.from, func() bool { return tr.Stats().Total.Records >= int64(want) })
		stop()
		var got []string
		for _, call := range r.snapshot() {
			got = append(got, data(call.ev)...)
		}
		sort.Strings(got)
		if c.from == "LATEST" {
			got = slices.Compact(got) // the later ones, one or more
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("from %s: %v, want %s", c.from, got, c.want)
		}
	}
}

func TestTumblingWindowStateTooBigStartsOver(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	s := testSettings(clock)
	s.TumblingWindowInSeconds = 60
	big := `{"state":{"blob":"` + strings.Repeat("x", maxState) + `"}}`
	r := &recorder{reply: func(n int, _ Event) ([]byte, error) {
		if n == 1 {
			return []byte(big), nil
		}
		return []byte(`{"state":{"n":1}}`), nil
	}}
	tr := newTrigger(t, e, s, r, nil)
	start(t, tr)
	put(t, e, "a", "1")
	waitFor(t, 5*time.Second, "the first invocation", func() bool { return r.count() == 1 })
	put(t, e, "a", "2")
	waitFor(t, 5*time.Second, "the second invocation", func() bool { return r.count() == 2 })
	c := r.snapshot()[1].ev
	if string(c.State) != "{}" || c.IsWindowTerminatedEarly == nil || !*c.IsWindowTerminatedEarly || *c.IsFinalInvokeForWindow {
		t.Errorf("after an oversized state: state %s, terminated early %v, final %v", c.State, *c.IsWindowTerminatedEarly, *c.IsFinalInvokeForWindow)
	}
}
