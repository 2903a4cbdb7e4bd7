package producers

import (
	"context"
	"strings"

	"github.com/shardscope/shardscope/engine"
)

// Sink is the part of a Kinesis data stream service that producers use. The
// embedded *engine.Engine satisfies it; so can an adapter over the AWS SDK.
// Implementations must be safe for concurrent use by several producers.
type Sink interface {
	PutRecords(ctx context.Context, in engine.PutRecordsInput) (engine.PutRecordsOutput, error)
	ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error)
}

var _ Sink = (*engine.Engine)(nil)

// streamRef names a stream by ARN when the string looks like one, by name
// otherwise.
func streamRef(stream string) engine.StreamRef {
	if strings.HasPrefix(stream, "arn:") {
		return engine.StreamRef{StreamARN: stream}
	}
	return engine.StreamRef{StreamName: stream}
}

// OpenShards counts the open shards of a stream through the sink, following
// ListShards pages. The console can use it to size producer rates to a
// stream (each open shard takes 1,000 records/s and 1 MiB/s).
func OpenShards(ctx context.Context, sink Sink, stream string) (int, error) {
	shards, err := listShards(ctx, sink, stream)
	n := 0
	for _, s := range shards {
		if s.Open() {
			n++
		}
	}
	return n, err
}

// listShards lists a stream's shards through the sink, following pages; on
// an error it returns what it listed so far.
func listShards(ctx context.Context, sink Sink, stream string) ([]engine.Shard, error) {
	in := engine.ListShardsInput{StreamRef: streamRef(stream)}
	var all []engine.Shard
	for pages := 0; pages < 10000; pages++ {
		out, err := sink.ListShards(ctx, in)
		if err != nil {
			return all, err
		}
		all = append(all, out.Shards...)
		if out.NextToken == "" {
			break
		}
		// Follow-up pages carry only the token, as the service requires.
		in = engine.ListShardsInput{NextToken: out.NextToken}
	}
	return all, nil
}
