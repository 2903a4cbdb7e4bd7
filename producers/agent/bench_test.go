package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkAgentLines is the agent's throughput from a file into the
// embedded engine (limits off, one shard): lines of ~100 bytes, read,
// batched into PutRecords of 500 and checkpointed after each.
//
//	go test -run '^$' -bench AgentLines -benchtime 200000x ./producers/agent/
func BenchmarkAgentLines(b *testing.B) {
	e := newEngine(b, 1, false)
	dir := b.TempDir()
	n := (b.N + 499) / 500 * 500 // whole buffers: none waits for its age
	var sb strings.Builder
	pad := strings.Repeat("x", 80)
	for i := range n {
		fmt.Fprintf(&sb, "line %09d %s\n", i, pad)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len() / n))
	b.ResetTimer()
	start := time.Now()
	a, stop := runAgent(b, testConfig(b, dir, "app.log", ""), e)
	deadline := time.Now().Add(5 * time.Minute)
	for a.Stats()[0].Sent < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("sent %d of %d", a.Stats()[0].Sent, n)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(n)/el.Seconds(), "lines/s")
}
