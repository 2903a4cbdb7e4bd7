package engine

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/shardscope/shardscope/storage"
)

// A record damaged on disk comes back from GetRecords as InternalFailure
// carrying the storage error that names it, not as a panic or other data.
func TestDamagedRecordIsInternalFailure(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("d", 1)
	for i := range 50 {
		env.put("d", key(i), strings.Repeat("ok", 10)+"-"+key(i)+"-needle")
	}
	shard := env.shards("d")[0].ShardID
	env.e.Close()
	env.db.Close() // a clean close checkpoints every record into the file
	env.e = nil

	data, err := os.ReadFile(env.path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("-key-30-needle"))
	if i < 0 {
		t.Fatal("record not found in the file")
	}
	data[i+3] ^= 0x04
	if err := os.WriteFile(env.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(env.path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(db, Options{DisableLimits: true, Clock: env.clock, RetentionInterval: -1, ScaleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	out, err := e.GetShardIterator(ctx, GetShardIteratorInput{StreamRef: StreamRef{StreamName: "d"}, ShardID: shard, ShardIteratorType: TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.GetRecords(ctx, GetRecordsInput{ShardIterator: out})
	wantCode(t, err, InternalFailure)
	var de *storage.DamageError
	if !errors.As(err, &de) || !errors.Is(err, storage.ErrCorrupt) || de.Shard.Stream != "d" || de.Position == 0 {
		t.Fatalf("GetRecords = %v; want it to carry the storage DamageError", err)
	}
	t.Logf("%v: %v", err, errors.Unwrap(err))
}
