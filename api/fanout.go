package api

import (
	"context"

	"github.com/shardscope/shardscope/engine"
)

// Enhanced fan-out: the consumer registry and SubscribeToShard. The
// registry actions are ordinary request/reply translations; SubscribeToShard
// replies with an event stream (eventstream.go).

type consumerOut struct {
	ConsumerName              string   `json:"ConsumerName"`
	ConsumerARN               string   `json:"ConsumerARN"`
	ConsumerStatus            string   `json:"ConsumerStatus"`
	ConsumerCreationTimestamp wireTime `json:"ConsumerCreationTimestamp"`
}

func toConsumer(c engine.Consumer) consumerOut {
	return consumerOut{ConsumerName: c.ConsumerName, ConsumerARN: c.ConsumerARN, ConsumerStatus: string(c.ConsumerStatus), ConsumerCreationTimestamp: wireTime(c.ConsumerCreationTimestamp)}
}

type consumerDescription struct {
	consumerOut
	StreamARN string `json:"StreamARN"`
}

// consumerRef reads the members that name a consumer: ConsumerARN, or
// StreamARN and ConsumerName; the reserved StreamId is type-checked.
func (o object) consumerRef() engine.ConsumerRef {
	o.str("StreamId")
	return engine.ConsumerRef{StreamARN: o.nonEmpty("StreamARN"), ConsumerName: o.nonEmpty("ConsumerName"), ConsumerARN: o.nonEmpty("ConsumerARN")}
}

func registerStreamConsumer(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.RegisterConsumerInput{StreamARN: in.nonEmpty("StreamARN"), ConsumerName: in.nonEmpty("ConsumerName"), Tags: in.stringMap("Tags")}
	if err := in.done(); err != nil {
		return nil, err
	}
	c, err := e.RegisterStreamConsumer(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		Consumer consumerOut `json:"Consumer"`
	}{toConsumer(c)}, nil
}

func deregisterStreamConsumer(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ref := in.consumerRef()
	if err := in.done(); err != nil {
		return nil, err
	}
	return empty{}, e.DeregisterStreamConsumer(ctx, ref)
}

func describeStreamConsumer(ctx context.Context, e *engine.Engine, in object) (any, error) {
	ref := in.consumerRef()
	if err := in.done(); err != nil {
		return nil, err
	}
	d, err := e.DescribeStreamConsumer(ctx, ref)
	if err != nil {
		return nil, err
	}
	return struct {
		ConsumerDescription consumerDescription `json:"ConsumerDescription"`
	}{consumerDescription{toConsumer(d.Consumer), d.StreamARN}}, nil
}

func listStreamConsumers(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.ListStreamConsumersInput{StreamARN: in.nonEmpty("StreamARN"), NextToken: in.nonEmpty("NextToken"), MaxResults: in.limit("MaxResults")}
	args.StreamCreationTimestamp, _ = in.timestamp("StreamCreationTimestamp")
	if err := in.done(); err != nil {
		return nil, err
	}
	l, err := e.ListStreamConsumers(ctx, args)
	if err != nil {
		return nil, err
	}
	out := struct {
		Consumers []consumerOut `json:"Consumers"`
		NextToken string        `json:"NextToken,omitempty"`
	}{Consumers: make([]consumerOut, 0, len(l.Consumers)), NextToken: l.NextToken}
	for _, c := range l.Consumers {
		out.Consumers = append(out.Consumers, toConsumer(c))
	}
	return out, nil
}

// subscribeToShard starts a subscription. Whatever fails here — a bad
// request, an unknown consumer, the call rate, a live subscription — is an
// ordinary error reply; once it succeeds the reply is an event stream.
func subscribeToShard(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.SubscribeToShardInput{ConsumerARN: in.nonEmpty("ConsumerARN"), ShardID: in.nonEmpty("ShardId")}
	p, ok := in.obj("StartingPosition")
	in.require("StartingPosition", ok)
	if ok {
		typ, present := p.str("Type")
		p.require("Type", present)
		if present && typ == "" {
			p.problem("''", "Type", "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
		}
		args.StartingPosition = engine.StartingPosition{Type: engine.IteratorType(typ), SequenceNumber: p.patterned("SequenceNumber", seqPattern)}
		args.StartingPosition.Timestamp, _ = p.timestamp("Timestamp")
	}
	in.ignoreDryRun()
	if err := in.done(); err != nil {
		return nil, err
	}
	sub, err := e.SubscribeToShard(ctx, args)
	if err != nil {
		return nil, err
	}
	return &eventStream{sub: sub}, nil
}
