package consumers

import (
	"context"

	"github.com/shardscope/shardscope/engine"
)

// Source is the part of a Kinesis stream a consumer reads: the shard list,
// shard iterators and records. *engine.Engine satisfies it; an AWS-SDK
// adapter can too. A fan-out App needs a FanOutSource.
type Source interface {
	// ListShards lists the stream's shards, a page at a time.
	ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error)
	// GetShardIterator returns an iterator positioned as the input says.
	GetShardIterator(ctx context.Context, in engine.GetShardIteratorInput) (string, error)
	// GetRecords reads records at an iterator and returns the next one.
	GetRecords(ctx context.Context, in engine.GetRecordsInput) (engine.GetRecordsOutput, error)
}

var _ Source = (*engine.Engine)(nil)
