package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

func TestSettingsRanges(t *testing.T) {
	if err := DefaultSettings("s").Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	d := DefaultSettings("s")
	if d.BatchSize != 100 || d.MaximumBatchingWindowInSeconds != 0 || d.ParallelizationFactor != 1 || d.MaximumRetryAttempts != -1 || d.MaximumRecordAgeInSeconds != -1 || d.StartingPosition != Latest {
		t.Errorf("defaults %+v", d)
	}
	cases := []struct {
		name string
		set  func(*Settings)
		want string // "" for valid
	}{
		{"batch 1", func(s *Settings) { s.BatchSize = 1 }, ""},
		{"batch 10000", func(s *Settings) { s.BatchSize = 10000 }, ""},
		{"batch 0", func(s *Settings) { s.BatchSize = 0 }, "ValidationException: 1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"batch 10001", func(s *Settings) { s.BatchSize = 10001 }, "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"window 300", func(s *Settings) { s.MaximumBatchingWindowInSeconds = 300 }, ""},
		{"window 301", func(s *Settings) { s.MaximumBatchingWindowInSeconds = 301 }, "'maximumBatchingWindowInSeconds'"},
		{"pf 10", func(s *Settings) { s.ParallelizationFactor = 10 }, ""},
		{"pf 11", func(s *Settings) { s.ParallelizationFactor = 11 }, "'parallelizationFactor'"},
		{"pf 0", func(s *Settings) { s.ParallelizationFactor = 0 }, "'parallelizationFactor'"},
		{"retries 10000", func(s *Settings) { s.MaximumRetryAttempts = 10000 }, ""},
		{"retries -2", func(s *Settings) { s.MaximumRetryAttempts = -2 }, "'maximumRetryAttempts'"},
		{"age 60", func(s *Settings) { s.MaximumRecordAgeInSeconds = 60 }, ""},
		{"age 604800", func(s *Settings) { s.MaximumRecordAgeInSeconds = 604800 }, ""},
		{"age 59", func(s *Settings) { s.MaximumRecordAgeInSeconds = 59 }, "InvalidParameterValueException: MaximumRecordAgeInSeconds 59: values less than 60 and greater than -1 are not allowed"},
		{"age 0", func(s *Settings) { s.MaximumRecordAgeInSeconds = 0 }, "values less than 60"},
		{"age 604801", func(s *Settings) { s.MaximumRecordAgeInSeconds = 604801 }, "'maximumRecordAgeInSeconds'"},
		{"tumbling 900", func(s *Settings) { s.TumblingWindowInSeconds = 900 }, ""},
		{"tumbling 901", func(s *Settings) { s.TumblingWindowInSeconds = 901 }, "'tumblingWindowInSeconds'"},
		{"position", func(s *Settings) { s.StartingPosition = "EARLIEST" }, "Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, AT_TIMESTAMP, LATEST]"},
		{"at timestamp without", func(s *Settings) { s.StartingPosition = AtTimestamp }, "StartingPositionTimestamp is required"},
		{"at timestamp", func(s *Settings) { s.StartingPosition, s.StartingPositionTimestamp = AtTimestamp, 1.7e9 }, ""},
		{"response types", func(s *Settings) { s.FunctionResponseTypes = []string{"Partial"} }, "'functionResponseTypes'"},
		{"no stream", func(s *Settings) { s.Stream = "" }, "'eventSourceArn'"},
		{"two errors", func(s *Settings) { s.BatchSize, s.ParallelizationFactor = 0, 0 }, "2 validation errors detected"},
	}
	for _, c := range cases {
		s := DefaultSettings("s")
		c.set(&s)
		err := s.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	var ve *ValidationError
	s := DefaultSettings("s")
	s.BatchSize = 0
	if _, err := New(nil, nil, nil, s, InvokerFunc(nil), nil); !errors.As(err, &ve) {
		t.Errorf("New with BatchSize 0: %v, want a *ValidationError", err)
	}
}

func TestSetFrom(t *testing.T) {
	for in, want := range map[string]string{
		"latest":                            "LATEST 0",
		"TRIM_HORIZON":                      "TRIM_HORIZON 0",
		"2026-03-01T12:00:00.5Z":            "AT_TIMESTAMP 1.7723664005e+09",
		"AT_TIMESTAMP=1772366400":           "AT_TIMESTAMP 1.7723664e+09",
		"AT_TIMESTAMP:2026-03-01T12:00:00Z": "AT_TIMESTAMP 1.7723664e+09",
	} {
		var s Settings
		if err := s.SetFrom(in); err != nil || fmt.Sprint(s.StartingPosition, " ", s.StartingPositionTimestamp) != want {
			t.Errorf("SetFrom(%q) = %s %v, %v; want %s", in, s.StartingPosition, s.StartingPositionTimestamp, err, want)
		}
	}
	var at Settings
	if err := at.SetFrom("2026-03-01T12:00:00.5Z"); err != nil {
		t.Fatal(err)
	}
	if c := at.consumerConfig(); c.StartPosition != engine.AtTimestamp || !c.StartTimestamp.Equal(time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)) {
		t.Errorf("consumer config %v %v, want AT_TIMESTAMP at 12:00:00.5", c.StartPosition, c.StartTimestamp)
	}
	var s Settings
	if err := s.SetFrom("yesterday"); err == nil || !strings.Contains(err.Error(), "InvalidParameterValueException") {
		t.Errorf("SetFrom(yesterday) = %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	yml := `Triggers:
  - Stream: orders
    FunctionName: audit
    Exec: node testdata/runner.js index.handler
    BatchSize: 50
    FunctionResponseTypes: [ReportBatchItemFailures]
  - Stream: clicks
    URL: http://127.0.0.1:9000/
    MaximumRetryAttempts: 0
    StartingPosition: TRIM_HORIZON
`
	got, err := ParseConfig([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].BatchSize != 50 || !got[0].reportItems() || got[0].MaximumRetryAttempts != -1 ||
		got[1].BatchSize != 100 || got[1].MaximumRetryAttempts != 0 || got[1].StartingPosition != TrimHorizon || got[1].URL == "" {
		t.Errorf("parsed %+v", got)
	}
	js := `{"Triggers":[{"Stream":"orders","URL":"http://x/","TumblingWindowInSeconds":30}]}`
	if got, err := ParseConfig([]byte(js)); err != nil || got[0].TumblingWindowInSeconds != 30 {
		t.Errorf("JSON config: %+v, %v", got, err)
	}
	for cfg, want := range map[string]string{
		`Triggers: [{Stream: s, URL: u, BatchSize: 0}]`:        "Triggers[0]: ValidationException",
		`Triggers: [{Stream: s, URL: u, Batchsize: 5}]`:        "field Batchsize not found",
		`Triggers: [{Stream: s}]`:                              "give Exec or URL",
		`Triggers: [{Stream: s, URL: u}, {Stream: t, URL: v}]`: "ResourceConflictException",
		`Triggers: []`: "no Triggers",
		`Triggers: [{Stream: s, URL: u, MaximumRecordAgeInSeconds: 10}]`:                         "values less than 60",
		`Triggers: [{Stream: s, URL: u, Exec: x}]`:                                               "not both",
		`Triggers: [{Stream: s, URL: u, FunctionName: "a b"}]`:                                   "'functionName'",
		`Triggers: [{Stream: s, URL: u, StartingPositionTimestamp: 5}]`:                          "only valid with StartingPosition AT_TIMESTAMP",
		`Triggers: [{Stream: s, URL: u, TumblingWindowInSeconds: 60, ParallelizationFactor: 2}]`: "ParallelizationFactor",
	} {
		if _, err := ParseConfig([]byte(cfg)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", cfg, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "triggers.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadConfig(path); err != nil || len(got) != 2 {
		t.Errorf("LoadConfig: %v", err)
	}
}

func TestParseReply(t *testing.T) {
	recs := []item{{r: consumers.UserRecord{Record: engine.Record{SequenceNumber: "100"}}}, {r: consumers.UserRecord{Record: engine.Record{SequenceNumber: "200"}}}, {r: consumers.UserRecord{Record: engine.Record{SequenceNumber: "300"}}}}
	p := &shardProc{t: &Trigger{set: Settings{FunctionResponseTypes: []string{ReportBatchItemFailures}}}}
	cases := map[string]string{
		``:                           "ok",
		`null`:                       "ok",
		`""`:                         "ok",
		`[]`:                         "ok",
		`{}`:                         "ok",
		`{"batchItemFailures":null}`: "ok",
		`{"batchItemFailures":[]}`:   "ok",
		`{"batchItemFailures":[{"itemIdentifier":"300"},{"itemIdentifier":"200"}]}`: "partial 1",
		`{"batchItemFailures":[{"itemIdentifier":"100"}]}`:                          "partial 0",
		`{"batchItemFailures":[{"itemIdentifier":""}]}`:                             "bad",
		`{"batchItemFailures":[{"itemIdentifier":null}]}`:                           "bad",
		`{"batchItemFailures":[{"id":"200"}]}`:                                      "bad",
		`{"batchItemFailures":[{"itemIdentifier":"123"}]}`:                          "bad",
		`{"batchItemFailures":"200"}`:                                               "bad",
		`not json`:                                                                  "bad",
	}
	for reply, want := range cases {
		res, _, _ := p.parseReply([]byte(reply), recs, false, false)
		got := map[int]string{resultOK: "ok", resultPartial: fmt.Sprint("partial ", res.failAt), resultBadReply: "bad"}[res.kind]
		if got != want {
			t.Errorf("reply %s: %s, want %s", reply, got, want)
		}
	}
	// Without ReportBatchItemFailures the reply is not read.
	p.t.set.FunctionResponseTypes = nil
	if res, _, _ := p.parseReply([]byte(`{"batchItemFailures":[{"itemIdentifier":"200"}]}`), recs, false, false); res.kind != resultOK {
		t.Errorf("batchItemFailures honoured without ReportBatchItemFailures")
	}
}

func TestURLInvoker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&ev) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if len(ev.Records) == 0 {
			http.Error(w, `{"errorMessage":"no records"}`, http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"batchItemFailures":[]}`)
	}))
	defer srv.Close()
	u := &URLInvoker{URL: srv.URL}
	if reply, err := u.Invoke(context.Background(), []byte(`{"Records":[{}]}`)); err != nil || string(reply) != `{"batchItemFailures":[]}` {
		t.Errorf("2xx: %q, %v", reply, err)
	}
	var fe *FunctionError
	if _, err := u.Invoke(context.Background(), []byte(`{"Records":[]}`)); !errors.As(err, &fe) || !strings.Contains(fe.Message, "no records") {
		t.Errorf("500: %v, want a function error with the body", err)
	}
	srv.Close()
	if _, err := u.Invoke(context.Background(), []byte(`{}`)); err == nil || errors.As(err, &fe) {
		t.Errorf("unreachable: %v, want an error that is not the function's", err)
	}
}

func TestExecInvoker(t *testing.T) {
	x := &ExecInvoker{Command: `read -r line; echo "got $line"`}
	if reply, err := x.Invoke(context.Background(), []byte("event\n")); err != nil || string(reply) != "got event\n" {
		t.Errorf("reply %q, %v", reply, err)
	}
	var fe *FunctionError
	x = &ExecInvoker{Command: `echo oops >&2; exit 3`}
	if _, err := x.Invoke(context.Background(), nil); !errors.As(err, &fe) || fe.Message != "oops" {
		t.Errorf("non-zero exit: %v, want function error oops", err)
	}
	x = &ExecInvoker{Command: `sleep 5`}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), timeoutKey{}, 50*time.Millisecond), 50*time.Millisecond)
	defer cancel()
	if _, err := x.Invoke(ctx, nil); !errors.As(err, &fe) || fe.Message != "Task timed out after 0.05 seconds" {
		t.Errorf("timeout: %v", err)
	}
	x = &ExecInvoker{Command: `/no/such/command`}
	if _, err := x.Invoke(context.Background(), nil); err == nil || errors.As(err, &fe) {
		t.Errorf("missing command: %v, want an error that is not the function's", err)
	}
}

// A stream destination receives the on-failure record without its payload.
func TestStreamDestination(t *testing.T) {
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	ctx := context.Background()
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: "dlq", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	put(t, e, "a", "1")
	dest, err := OpenDestination("stream:dlq", e)
	if err != nil {
		t.Fatal(err)
	}
	s := testSettings(clock)
	s.MaximumRetryAttempts = 0
	tr, err := New(e, nil, nil, s, InvokerFunc(func(context.Context, []byte) ([]byte, error) { return nil, &FunctionError{Message: "x"} }), dest)
	if err != nil {
		t.Fatal(err)
	}
	start(t, tr)
	waitFor(t, 5*time.Second, "the on-failure record", func() bool { return tr.Stats().Total.OnFailure == 1 })
	out, err := e.ListShards(ctx, engine.ListShardsInput{StreamRef: engine.StreamRef{StreamName: "dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := e.GetShardIterator(ctx, engine.GetShardIteratorInput{StreamRef: engine.StreamRef{StreamName: "dlq"}, ShardID: out.Shards[0].ShardID, ShardIteratorType: engine.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it})
	if err != nil || len(recs.Records) != 1 {
		t.Fatalf("dlq records %v, %v", recs.Records, err)
	}
	var fr map[string]any
	if err := json.Unmarshal(recs.Records[0].Data, &fr); err != nil {
		t.Fatal(err)
	}
	if _, ok := fr["payload"]; ok || fr["requestContext"].(map[string]any)["condition"] != RetryAttemptsExhausted || recs.Records[0].PartitionKey != "shardId-000000000000" {
		t.Errorf("dlq record %v", fr)
	}
	if _, err := OpenDestination("stream:dlq", nil); err == nil {
		t.Error("a stream destination without a sink opened")
	}
	if _, err := OpenDestination("arn:aws:sqs:us-east-1:1:q", e); err == nil {
		t.Error("an SQS destination opened")
	}
}
