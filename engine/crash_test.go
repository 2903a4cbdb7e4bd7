package engine

import (
	"bufio"
	"context"
	"fmt"
	"math/big"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardscope/shardscope/storage"
)

const crashChildEnv = "SHARDSCOPE_CRASH_CHILD_DB"

// lineEnd ends every line the crash child prints.
const lineEnd = "$"

// TestMain lets the crash test re-run this binary as the writer it kills.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv("SHARDSCOPE_CRASH_RUN"))
		return
	}
	os.Exit(m.Run())
}

// crashChild writes from four goroutines as fast as it can and prints each
// record only after PutRecords acknowledged it. Every line ends in
// lineEnd: a line the kill cut short lacks it and is not counted.
func crashChild(path, run string) {
	db, err := storage.Open(path, storage.Options{Sync: storage.SyncAlways})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	e, err := New(db, Options{DisableLimits: true, RetentionInterval: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	err = e.CreateStream(context.Background(), CreateStreamInput{StreamName: "crash", ShardCount: 4})
	if err != nil && !IsCode(err, ResourceInUseException) {
		fmt.Println("error", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	fmt.Fprintln(out, "ready")
	out.Flush()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ; n++ {
				entries := make([]PutRecordsEntry, 50)
				for i := range entries {
					id := fmt.Sprintf("%s-%d-%d-%d", run, w, n, i)
					entries[i] = PutRecordsEntry{PartitionKey: id, Data: []byte(id)}
				}
				res, err := e.PutRecords(context.Background(), PutRecordsInput{StreamRef: StreamRef{StreamName: "crash"}, Records: entries})
				if err != nil {
					continue
				}
				mu.Lock()
				for i, r := range res.Records {
					if r.ErrorCode == "" {
						fmt.Fprintf(out, "ack %s %s %s %s\n", r.ShardID, r.SequenceNumber, entries[i].Data, lineEnd)
					}
				}
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

// TestCrashKeepsEveryAcknowledgedRecord kills a writer with SIGKILL at
// random moments; after each reopen every acknowledged record is present
// with its sequence number, each shard's positions run without gaps or
// duplicates, and the store passes its consistency check.
func TestCrashKeepsEveryAcknowledgedRecord(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string][2]string{} // data → shard, sequence number
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, fmt.Sprintf("SHARDSCOPE_CRASH_RUN=%d", run))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: child said %q, want ready", run, sc.Text())
		}
		killAfter := time.Duration(20+rng.Intn(280)) * time.Millisecond
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		before := len(acked)
		for sc.Scan() {
			if data, at, ok := parseAck(sc.Text()); ok {
				acked[data] = at
			}
		}
		timer.Stop()
		cmd.Wait()
		if len(acked) == before {
			t.Logf("run %d: killed after %v before any acknowledgement", run, killAfter)
		}
		verifyCrashStore(t, path, acked)
	}
	t.Logf("%d runs, %d acknowledged records verified", runs, len(acked))
}

// parseAck reads a whole "ack <shard> <sequence> <data> $" line; a line the
// kill cut short has no end marker and is not an acknowledgement.
func parseAck(line string) (data string, at [2]string, ok bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ack" || f[4] != lineEnd {
		return "", at, false
	}
	return f[3], [2]string{f[1], f[2]}, true
}

func TestParseAckNeedsTheWholeLine(t *testing.T) {
	line := "ack shardId-000000000001 49590000000000000000000000000000000000000000000000000017 3-1-22-7 $"
	if data, at, ok := parseAck(line); !ok || data != "3-1-22-7" || at[0] != "shardId-000000000001" || at[1][len(at[1])-2:] != "17" {
		t.Fatalf("parseAck(%q) = %q, %v, %v", line, data, at, ok)
	}
	for n := range len(line) - 1 { // every cut the kill can make
		if _, _, ok := parseAck(line[:n]); ok {
			t.Fatalf("parseAck accepted the cut line %q", line[:n])
		}
	}
}

func verifyCrashStore(t *testing.T, path string, acked map[string][2]string) {
	t.Helper()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	e, err := New(db, Options{DisableLimits: true, RetentionInterval: -1})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	defer e.Close()
	shards, err := e.ListShards(ctx, ListShardsInput{StreamRef: StreamRef{StreamName: "crash"}})
	if err != nil {
		if len(acked) == 0 {
			return
		}
		t.Fatalf("list shards: %v", err)
	}
	found := map[string][2]string{}
	for _, sh := range shards.Shards {
		it, err := e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "crash"}, ShardID: sh.ShardID, ShardIteratorType: TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		var prev *big.Int
		for {
			out, err := e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				n, _ := new(big.Int).SetString(r.SequenceNumber, 10)
				if prev != nil && new(big.Int).Sub(n, prev).Cmp(big.NewInt(1)) != 0 {
					t.Fatalf("%s: sequence %s does not follow %s by one: a gap or a duplicate", sh.ShardID, n, prev)
				}
				prev = n
				if _, dup := found[string(r.Data)]; dup {
					t.Fatalf("record %s stored twice", r.Data)
				}
				found[string(r.Data)] = [2]string{sh.ShardID, r.SequenceNumber}
			}
			if len(out.Records) == 0 || out.NextShardIterator == "" {
				break
			}
			it = out.NextShardIterator
		}
	}
	for data, want := range acked {
		got, ok := found[data]
		if !ok {
			t.Fatalf("acknowledged record %s is missing after the crash", data)
		}
		if got != want {
			t.Fatalf("record %s: stored at %v, acknowledged at %v", data, got, want)
		}
	}
}
