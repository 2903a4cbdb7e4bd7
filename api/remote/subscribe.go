package remote

import (
	"context"
	"io"
	"net/http"

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
	k := streamClient(c.k)
	out, err := k.SubscribeToShard(sctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(in.ConsumerARN), ShardId: aws.String(in.ShardID), StartingPosition: pos})
	if err = c.done(err); err != nil {
		cancel()
		return nil, err
	}
	return &subscription{es: out.GetStream(), cancel: cancel}, nil
}

// streamClient returns a copy of k fit to hold one subscription, around
// two bugs of the Go SDK (kinesis v1.56.13 on smithy-go v1.28.9; see
// api/fanout_test.go's streamSDK for the long story):
//   - one event-stream codec per client, initialised without a lock: two
//     live subscriptions on one client race, so each gets its own client
//     (kinesis.New gives the copy a fresh protocol);
//   - the request body, closed as soon as Do returns, answers WriteTo with
//     an error, and a fast server's answer then makes net/http close the
//     connection under the stream ("use of closed network connection").
//     Hiding WriteTo makes the transport read the body instead.
func streamClient(k *kinesis.Client) *kinesis.Client {
	return kinesis.New(k.Options(), func(o *kinesis.Options) { o.HTTPClient = plainBody{o.HTTPClient} })
}

type plainBody struct{ kinesis.HTTPClient }

func (c plainBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.HTTPClient.Do(req)
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
