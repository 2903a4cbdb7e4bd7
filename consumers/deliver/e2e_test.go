package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardscope/shardscope/api/remote/remotetest"
)

// TestMain removes what remotetest built (the binary, npm packages).
func TestMain(m *testing.M) { remotetest.Main(m) }

// startCommand runs the shardscope binary with args; at the test's end it
// is interrupted (as Ctrl+C) and must exit cleanly.
func startCommand(t *testing.T, args ...string) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(remotetest.Binary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v\n%s", args[0], err, out.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop within 30 s of Ctrl+C:\n%s", args[0], out.String())
		}
	})
	return &out
}

// The walk-through of the README: `shardscope agent` tails a log into a
// stream of `shardscope serve`; `shardscope deliver` loads the stream into
// PostgreSQL and writes it into a directory, and `shardscope trigger` hands
// it to a function (a shell command keeping the events) — five processes,
// over the wire.
func TestAgentToStreamToDirectoryAndFunction(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "logs", 2)
	remotetest.WaitActive(t, sdk, "logs")

	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	agentOut := startCommand(t, "agent", "--file", logFile, "--stream", "logs", "--endpoint", url,
		"--start-of-file", "--max-buffer-age", "1s", "--checkpoint-file", filepath.Join(dir, "agent.json"))
	deliverOut := startCommand(t, "deliver", "--stream", "logs", "--to", "file://"+out, "--endpoint", url,
		"--from", "trim-horizon", "--buffer-interval", "0", "--state", filepath.Join(dir, "deliver.db"))

	// The function keeps each event in a file of its own (the shards'
	// batches are invoked at once).
	pg := startPostgres(t)
	pgOut := startCommand(t, "deliver", "--stream", "logs", "--to", pg.dsn(), "--table", "lines", "--columns", "line=$data,seq=$sequenceNumber",
		"--endpoint", url, "--from", "trim-horizon", "--buffer-interval", "0", "--state", filepath.Join(dir, "deliver-pg.db"))
	conn, err := pgx.Connect(context.Background(), pg.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `CREATE TABLE lines (line text, seq numeric)`); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events")
	if err := os.Mkdir(events, 0o700); err != nil {
		t.Fatal(err)
	}
	triggerOut := startCommand(t, "trigger", "--stream", "logs", "--endpoint", url, "--from", "trim-horizon",
		"--exec", `cat > "$(mktemp `+events+`/event.XXXXXX)"`, "--batch-size", "500", "--state", filepath.Join(dir, "trigger.db"))

	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		fmt.Fprintf(f, "line %d\n", i)
	}
	f.Close()

	deadline := time.Now().Add(90 * time.Second)
	for {
		lines, invoked, rows := delivered(t, out), invokedWith(t, events), tableLines(t, conn)
		if len(lines) >= 2000 && len(invoked) >= 2000 && len(rows) >= 2000 {
			checkLines(t, "delivered", lines)
			checkLines(t, "handed to the function", invoked)
			checkLines(t, "loaded into PostgreSQL", rows)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in 90 s %d of 2,000 lines delivered, %d loaded, %d handed to the function\nagent:\n%s\ndeliver:\n%s\ndeliver to PostgreSQL:\n%s\ntrigger:\n%s",
				len(lines), len(rows), len(invoked), agentOut, deliverOut, pgOut, triggerOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkLines(t *testing.T, what string, lines []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("%q %s twice", l, what)
		}
		seen[l] = true
	}
	for i := range 2000 {
		if !seen[fmt.Sprintf("line %d", i)] {
			t.Fatalf("line %d not %s", i, what)
		}
	}
}

// invokedWith reads the Lambda events the function kept, a file each, and
// returns the lines their records carry.
func invokedWith(t *testing.T, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "event.*"))
	var lines []string
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Records []struct {
				EventSource string `json:"eventSource"`
				Kinesis     struct {
					Data []byte `json:"data"`
				} `json:"kinesis"`
			}
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			continue // still being written: look again later
		}
		for _, r := range ev.Records {
			if r.EventSource != "aws:kinesis" {
				t.Fatalf("event source %q", r.EventSource)
			}
			lines = append(lines, strings.TrimSuffix(string(r.Kinesis.Data), "\n"))
		}
	}
	return lines
}

func delivered(t *testing.T, root string) []string {
	var lines []string
	filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		}
		return nil
	})
	return lines
}

func tableLines(t *testing.T, conn *pgx.Conn) []string {
	rows, err := conn.Query(context.Background(), `SELECT line FROM lines`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\n")
	}
	return lines
}
