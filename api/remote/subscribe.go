package remote

import (
	"context"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// SubscribeToShard starts a fan-out subscription. The subscription lives
// until it ends by itself (5 minutes, or the shard's end), ctx ends, or
// Close.
func (c *Client) SubscribeToShard(ctx context.Context, in engine.SubscribeToShardInput) (consumers.FanOutStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	pos := &types.StartingPosition{Type: types.ShardIteratorType(in.StartingPosition.Type), SequenceNumber: strOrNil(in.StartingPosition.SequenceNumber)}
	if !in.StartingPosition.Timestamp.IsZero() {
		pos.Timestamp = aws.Time(in.StartingPosition.Timestamp)
	}
	out, err := c.k.SubscribeToShard(sctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(in.ConsumerARN), ShardId: aws.String(in.ShardID), StartingPosition: pos})
	if err = c.done(err); err != nil {
		cancel()
		return nil, err
	}
	return &subscription{es: out.GetStream(), cancel: cancel}, nil
}

// subscription is one SubscribeToShard event stream as a
// consumers.FanOutStream.
type subscription struct {
	es     *kinesis.SubscribeToShardEventStream
	cancel context.CancelFunc
}

func (s *subscription) Next(ctx context.Context) (engine.SubscriptionEvent, error) {
	for {
		select {
		case <-ctx.Done():
			return engine.SubscriptionEvent{}, ctx.Err()
		case ev, ok := <-s.es.Events():
			if !ok {
				if err := s.es.Err(); err != nil {
					return engine.SubscriptionEvent{}, mapErr(err)
				}
				return engine.SubscriptionEvent{}, io.EOF
			}
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				continue // an event type newer than this SDK
			}
			v := e.Value
			out := engine.SubscriptionEvent{ContinuationSequenceNumber: aws.ToString(v.ContinuationSequenceNumber),
				MillisBehindLatest: aws.ToInt64(v.MillisBehindLatest), ChildShards: childrenOf(v.ChildShards)}
			for _, r := range v.Records {
				out.Records = append(out.Records, recordOf(r))
			}
			return out, nil
		}
	}
}

func (s *subscription) Close() {
	s.es.Close()
	s.cancel()
}
