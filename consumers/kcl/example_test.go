package kcl_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/shardscope/shardscope/consumers/kcl"
)

// A console following a KCL application's lease table on a local
// DynamoDB: every few seconds, the workers with their shards and lag, and
// what moved.
func ExamplePoller() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := kcl.NewPoller(kcl.NewClient(cfg, "http://127.0.0.1:4567"), "orders-app")
	tips := map[string]kcl.ShardTip{} // filled from the records the console reads
	for range 3 {
		view, moves, err := p.Poll(ctx, tips, time.Now())
		if err != nil {
			fmt.Println(kcl.ErrorName(err), err) // e.g. ResourceNotFoundException
			return
		}
		for _, w := range view.Workers {
			fmt.Println(w.ID, w.Shards, w.Records)
		}
		for _, m := range moves {
			fmt.Println(m.Key, m.Kind, m.From, "→", m.To)
		}
		time.Sleep(5 * time.Second)
	}
}
