package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardscope/shardscope/storage"
)

// runCheck runs `shardscope check --db path` in process.
func runCheck(t *testing.T, path string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"check", "--db", path})
	err := cmd.Execute()
	return out.String(), err
}

func TestCheckCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]storage.Record, 300)
	for i := range recs {
		recs[i] = storage.Record{Position: uint64(i), Arrival: 1, PartitionKey: "pk", Data: []byte(fmt.Sprintf("record-%03d", i))}
	}
	if err := db.Append(context.Background(), []storage.Append{{Shard: storage.ShardRef{Stream: "s", Shard: 3}, Records: recs}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	out, err := runCheck(t, path)
	if err != nil || !strings.Contains(out, "300 in 1 shard of 1 stream") || !strings.Contains(out, "every checksum matches") || !strings.Contains(out, "result   ok") {
		t.Fatalf("check of a sound store: %v\n%s", err, out)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("record-217"))
	data[i+8] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCheck(t, path)
	if err == nil || !strings.Contains(err.Error(), "1 problem found") {
		t.Fatalf("check of a damaged store = %v, want an error (a non-zero exit)\n%s", err, out)
	}
	if !strings.Contains(out, "DAMAGE   record s/3 at position 217 is damaged") || !strings.Contains(out, "result   damaged") {
		t.Fatalf("the summary does not name the damaged record:\n%s", out)
	}
	t.Logf("\n%s", out)
}
