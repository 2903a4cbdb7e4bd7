package embedded

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardscope/shardscope/ui"
)

// waitView polls fn until it returns "", or fails with its last answer.
func waitView(t *testing.T, what string, fn func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		why := fn()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s: %s", what, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A --config file on a real engine: the agent tails a file into the
// stream, a delivery writes the stream into a directory and a trigger
// hands it to a function (an HTTP endpoint counting records). The agent
// shows among the producers, the trigger and the delivery among the
// consumers with their figures, and neither can be removed from the
// keyboard.
func TestAroundRunsInTheConsole(t *testing.T) {
	v := newEnv(t, 2)
	dir := t.TempDir()
	var invoked atomic.Int64
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		invoked.Add(int64(strings.Count(string(b), `"eventSource":"aws:kinesis"`)))
		w.Write([]byte(`{}`))
	}))
	defer fn.Close()
	logFile := filepath.Join(dir, "app.log")
	agentJSON := fmt.Sprintf(`{"checkpointFile": %q, "flows": [{"filePattern": %q, "kinesisStream": "demo",
		"initialPosition": "START_OF_FILE", "maxBufferAgeMillis": 1000, "minTimeBetweenFilePollsMillis": 10}]}`,
		filepath.Join(dir, "agent-checkpoints.json"), logFile)
	if err := os.WriteFile(filepath.Join(dir, "agent.json"), []byte(agentJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
Triggers:
  - Stream: demo
    FunctionName: counter
    URL: %s
    StartingPosition: TRIM_HORIZON
Deliveries:
  - To: file://%s
    From: trim-horizon
    BufferIntervalInSeconds: 0
Agent: agent.json
`, fn.URL, filepath.Join(dir, "out"))
	path := filepath.Join(dir, "around.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	around, err := LoadAround(v.ctx, path, v.e, v.db, "demo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(v.ctx)
	around.Start(ctx)
	b := New(v.ctx, Config{Engine: v.e, DB: v.db, Clock: v.clock, Tap: v.tap, Around: around})

	var lines strings.Builder
	for i := range 300 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	if err := os.WriteFile(logFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	waitView(t, "the agent's 300 lines sent, shown as a producer", func() string {
		ps := b.Producers()
		if len(ps) != 1 || ps[0].Name != "agent app.log" || ps[0].Sent != 300 || !strings.Contains(ps[0].Skew, "1 file") {
			return fmt.Sprintf("%+v", ps)
		}
		return ""
	})
	var trig, del ui.ConsumerView
	waitView(t, "the trigger and the delivery with their figures", func() string {
		cs := b.Consumers()
		for _, c := range cs {
			switch c.Name {
			case "trigger-counter":
				trig = c
			case "deliver-demo":
				del = c
			}
		}
		ts, ds := strings.Join(trig.Summary, " | "), strings.Join(del.Summary, " | ")
		if !strings.Contains(ts, "trigger → counter") || !strings.Contains(ts, "300 records") ||
			!strings.Contains(ds, "delivery → file://") || strings.Contains(ds, "0 objects") || !strings.Contains(ds, "last ") {
			return fmt.Sprintf("%+v", cs)
		}
		return ""
	})
	views := b.Around()
	if len(views) != 3 || views[0].Kind != "trigger" || views[0].Target != "counter" || views[1].Kind != "delivery" ||
		!strings.HasPrefix(views[1].Target, "file://") || views[2].Kind != "agent" || !strings.Contains(views[2].Figures[0], "300 sent") {
		t.Fatalf("around views: %+v", views)
	}
	if n := invoked.Load(); n != 300 {
		t.Fatalf("the function got %d records, want 300", n)
	}
	if trig.Shards != 2 || del.Shards != 2 {
		t.Fatalf("shards: trigger %d, delivery %d", trig.Shards, del.Shards)
	}
	if _, err := b.RemoveConsumer("demo", "deliver-demo"); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("removing a --config application: %v", err)
	}
	if _, err := b.ProducerScale("agent app.log", 2); err == nil || !strings.Contains(err.Error(), "maxRecordsPerSecond") {
		t.Fatalf("scaling the agent: %v", err)
	}
	stop()
	if err := around.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAroundConfigErrors(t *testing.T) {
	v := newEnv(t, 1)
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"Trigers: []\n", "field Trigers not found"},
		{"{}\n", "declares nothing"},
		{"Deliveries:\n  - Stream: demo\n", "To is required"},
		{"Deliveries:\n  - To: ftp://x\n", "want file:///DIR"},
		{"Triggers:\n  - Stream: demo\n", "give Exec or URL"},
		{"Agent: missing.json\n", "Agent:"},
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAround(v.ctx, path, v.e, v.db, "demo"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want it to say %q", tc.text, err, tc.want)
		}
	}
}
