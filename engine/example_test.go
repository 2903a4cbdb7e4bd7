package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

// Example writes two records and reads them back from the start of their shard.
func Example() {
	dir, _ := os.MkdirTemp("", "shardscope-example")
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "example.db"), storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	e, err := engine.New(db, engine.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	ctx := context.Background()
	ref := engine.StreamRef{StreamName: "orders"}
	if err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: "orders", ShardCount: 1}); err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range []string{"first", "second"} {
		if _, err := e.PutRecord(ctx, engine.PutRecordInput{StreamRef: ref, PartitionKey: "customer-7", Data: []byte(d)}); err != nil {
			fmt.Println(err)
			return
		}
	}
	it, _ := e.GetShardIterator(ctx, engine.GetShardIteratorInput{StreamRef: ref, ShardID: "shardId-000000000000", ShardIteratorType: engine.TrimHorizon})
	out, _ := e.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it})
	for _, r := range out.Records {
		fmt.Println(r.PartitionKey, string(r.Data))
	}
	_, err = e.PutRecord(ctx, engine.PutRecordInput{StreamRef: engine.StreamRef{StreamName: "missing"}, PartitionKey: "k", Data: []byte("x")})
	fmt.Println(engine.CodeOf(err))
	// Output:
	// customer-7 first
	// customer-7 second
	// ResourceNotFoundException
}
