package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardscope/shardscope/storage"
)

// TestRepairCommand damages a frame in the middle of a crashed store's log:
// the store refuses to open, `shardscope repair` salvages the other frames
// and says how many records were lost, and the store opens again.
func TestRepairCommand(t *testing.T) {
	src := filepath.Join(t.TempDir(), "live.db")
	db, err := storage.Open(src, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ref := storage.ShardRef{Stream: "s", Shard: 0}
	for i := range 3 {
		recs := make([]storage.Record, 4)
		for j := range recs {
			recs[j] = storage.Record{Position: uint64(i*4 + j), PartitionKey: "pk", Data: bytes.Repeat([]byte{'x'}, 50)}
		}
		if err := db.Append(context.Background(), []storage.Append{{Shard: ref, Records: recs}}); err != nil {
			t.Fatal(err)
		}
	}
	// The files as a crash leaves them, with the first frame damaged.
	dir := t.TempDir()
	path := filepath.Join(dir, "crashed.db")
	segs, _ := filepath.Glob(src + ".wal.*")
	for _, from := range append([]string{src}, segs...) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := path + strings.TrimPrefix(from, src)
		if strings.Contains(from, ".wal.0") {
			data[32+24+10] ^= 0x40
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := storage.Open(path, storage.Options{}); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Open of the damaged store = %v, want ErrCorrupt", err)
	}
	run := func() string {
		var out bytes.Buffer
		cmd := rootCommand()
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"repair", "--db", path})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("repair: %v", err)
		}
		return out.String()
	}
	if out := run(); !strings.Contains(out, "repaired: 8 records kept, 4 records lost") {
		t.Fatalf("repair said:\n%s", out)
	}
	if out := run(); !strings.Contains(out, "intact") {
		t.Fatalf("second repair said:\n%s", out)
	}
	fixed, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	if n, _, err := fixed.Stats(ref); err != nil || n != 8 {
		t.Fatalf("Stats after repair = %d, %v; want 8", n, err)
	}
}
