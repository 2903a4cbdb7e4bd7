package consumers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// FanOutStream is the event stream of one SubscribeToShard call;
// *engine.FanOutSubscription is one.
type FanOutStream interface {
	// Next waits for the next event: records with where to continue, an
	// empty heartbeat, or at a closed shard's end the event carrying its
	// children and no ContinuationSequenceNumber (the reader takes the
	// children as the end). It returns io.EOF once the subscription ended
	// by itself (after 5 minutes, after the children's event) or was closed, and an
	// error carrying a Kinesis error name otherwise: ResourceInUseException
	// when another subscription took the shard over,
	// ResourceNotFoundException when the consumer was deregistered.
	Next(ctx context.Context) (engine.SubscriptionEvent, error)
	// Close ends the subscription; a waiting Next returns.
	Close()
}

var _ FanOutStream = (*engine.FanOutSubscription)(nil)

// FanOutSource is a Source that also offers enhanced fan-out: what a
// fan-out App (Config.FanOut) needs to register its stream consumer and
// subscribe to shards. EngineSource adapts an *engine.Engine; an App given
// the engine as its Source adapts it by itself.
type FanOutSource interface {
	Source
	// DescribeStreamSummary gives the stream's ARN, which the consumer
	// calls need.
	DescribeStreamSummary(ctx context.Context, ref engine.StreamRef) (engine.StreamSummary, error)
	// RegisterStreamConsumer registers a consumer (CREATING, then ACTIVE).
	RegisterStreamConsumer(ctx context.Context, in engine.RegisterConsumerInput) (engine.Consumer, error)
	// DescribeStreamConsumer describes a consumer by ARN, or by stream ARN
	// and name.
	DescribeStreamConsumer(ctx context.Context, ref engine.ConsumerRef) (engine.ConsumerDescription, error)
	// DeregisterStreamConsumer removes a consumer; its subscriptions end.
	DeregisterStreamConsumer(ctx context.Context, ref engine.ConsumerRef) error
	// SubscribeToShard starts pushing a shard's records to the consumer.
	SubscribeToShard(ctx context.Context, in engine.SubscribeToShardInput) (FanOutStream, error)
}

// engineFanOut is the fan-out API as the engine spells it, with its own
// subscription type.
type engineFanOut interface {
	Source
	DescribeStreamSummary(ctx context.Context, ref engine.StreamRef) (engine.StreamSummary, error)
	RegisterStreamConsumer(ctx context.Context, in engine.RegisterConsumerInput) (engine.Consumer, error)
	DescribeStreamConsumer(ctx context.Context, ref engine.ConsumerRef) (engine.ConsumerDescription, error)
	DeregisterStreamConsumer(ctx context.Context, ref engine.ConsumerRef) error
	SubscribeToShard(ctx context.Context, in engine.SubscribeToShardInput) (*engine.FanOutSubscription, error)
}

var _ engineFanOut = (*engine.Engine)(nil)

// EngineSource returns e as a FanOutSource. It is only needed where a
// FanOutSource is asked for by type: NewApp and NewRecordApp adapt an
// *engine.Engine Source themselves.
func EngineSource(e *engine.Engine) FanOutSource { return engineSource{e} }

type engineSource struct{ engineFanOut }

func (s engineSource) SubscribeToShard(ctx context.Context, in engine.SubscribeToShardInput) (FanOutStream, error) {
	fs, err := s.engineFanOut.SubscribeToShard(ctx, in)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return fs, nil
}

// asFanOutSource returns src with the fan-out calls, nil when it has none.
func asFanOutSource(src Source) FanOutSource {
	switch s := src.(type) {
	case FanOutSource:
		return s
	case engineFanOut:
		return engineSource{s}
	}
	return nil
}

// subscribeGap is the least time between two SubscribeToShard calls of an
// App on one shard: the service allows one a second per consumer and shard.
const subscribeGap = time.Second + 5*time.Millisecond

// FanOut reports whether the App reads with enhanced fan-out.
func (a *App) FanOut() bool { return a.cfg.FanOut }

// ConsumerARN returns the ARN of a fan-out App's stream consumer once it
// is registered and ACTIVE in the current (or latest) Run, "" before and
// after Deregister.
func (a *App) ConsumerARN() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.consumerARN
}

// Deregister removes a fan-out App's stream consumer (by stream and
// ConsumerName), for an App removed for good: a registered consumer is
// billed by the hour. A consumer already gone, or a polling App, is not an
// error. It returns ErrRunning while the App runs (its readers would
// register the consumer again).
func (a *App) Deregister(ctx context.Context) error {
	if !a.cfg.FanOut || a.fos == nil {
		return nil
	}
	if a.running.Load() {
		return ErrRunning
	}
	streamARN, err := a.resolveStreamARN(ctx)
	if err == nil {
		err = a.fos.DeregisterStreamConsumer(ctx, engine.ConsumerRef{StreamARN: streamARN, ConsumerName: a.cfg.ConsumerName})
	}
	if err != nil && !engine.IsCode(err, engine.ResourceNotFoundException) {
		return fmt.Errorf("deregister stream consumer %s: %w", a.cfg.ConsumerName, err)
	}
	a.mu.Lock()
	a.resetConsumerLocked()
	a.mu.Unlock()
	return nil
}

// resetConsumerLocked forgets the consumer's ARN. Called with a.mu held.
func (a *App) resetConsumerLocked() {
	if a.consumerARN != "" {
		a.consumerARN = ""
		a.consumerReady = make(chan struct{})
	}
}

// setConsumer records the ACTIVE consumer and wakes the readers waiting
// for it.
func (a *App) setConsumer(arn string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resetConsumerLocked()
	a.consumerARN = arn
	close(a.consumerReady)
}

// dropConsumer forgets a consumer found deregistered and asks the
// registration loop for a new one.
func (a *App) dropConsumer(arn string) {
	a.mu.Lock()
	if a.consumerARN == arn {
		a.resetConsumerLocked()
	}
	a.mu.Unlock()
	select {
	case a.regWake <- struct{}{}:
	default:
	}
}

// waitConsumer returns the ACTIVE consumer's ARN, waiting for its
// registration; ok is false when ctx ended first.
func (a *App) waitConsumer(ctx context.Context) (arn string, ok bool) {
	for {
		a.mu.Lock()
		arn, ready := a.consumerARN, a.consumerReady
		a.mu.Unlock()
		if arn != "" {
			return arn, true
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-ready:
		}
	}
}

// registerLoop registers the stream consumer (or finds it registered),
// and again whenever a reader finds it deregistered, until ctx ends.
func (a *App) registerLoop(ctx context.Context) {
	var wait time.Duration
	for {
		if a.ConsumerARN() == "" {
			arn, err := a.register(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				a.fail("", fmt.Errorf("register stream consumer %s: %w", a.cfg.ConsumerName, err))
				wait = grow(wait, a.cfg.PollInterval)
				if !sleepCtx(ctx, wait) {
					return
				}
				continue
			}
			wait = 0
			a.setConsumer(arn)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.regWake:
		}
	}
}

// register returns the ARN of the consumer named ConsumerName once it is
// ACTIVE, registering it when the stream has none of that name (a
// consumer being deleted is waited out first).
func (a *App) register(ctx context.Context) (string, error) {
	streamARN, err := a.resolveStreamARN(ctx)
	if err != nil {
		return "", err
	}
	name := a.cfg.ConsumerName
	ref := engine.ConsumerRef{StreamARN: streamARN, ConsumerName: name}
	deadline := time.Now().Add(a.cfg.RegisterTimeout)
	for {
		var state string
		d, err := a.fos.DescribeStreamConsumer(ctx, ref)
		switch {
		case err == nil:
			if d.ConsumerStatus == engine.ConsumerActive {
				return d.ConsumerARN, nil
			}
			state = string(d.ConsumerStatus) // CREATING; or DELETING: wait until gone
		case engine.IsCode(err, engine.ResourceNotFoundException):
			c, err := a.fos.RegisterStreamConsumer(ctx, engine.RegisterConsumerInput{StreamARN: streamARN, ConsumerName: name})
			switch {
			case err == nil:
				if c.ConsumerStatus == engine.ConsumerActive {
					return c.ConsumerARN, nil
				}
				state = string(c.ConsumerStatus)
			case engine.IsCode(err, engine.ResourceInUseException):
				// Registered meanwhile by another instance, or the stream
				// is not ACTIVE (being resharded): look again.
				state = err.Error()
			default:
				return "", err
			}
		default:
			return "", err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("not ACTIVE within %v (%s)", a.cfg.RegisterTimeout, state)
		}
		if !sleepCtx(ctx, a.cfg.PollInterval) {
			return "", ctx.Err()
		}
	}
}

// resolveStreamARN returns the stream's ARN: the stream itself when named
// by ARN, else from DescribeStreamSummary (once).
func (a *App) resolveStreamARN(ctx context.Context) (string, error) {
	if strings.HasPrefix(a.stream, "arn:") {
		return a.stream, nil
	}
	a.mu.Lock()
	arn := a.streamARN
	a.mu.Unlock()
	if arn != "" {
		return arn, nil
	}
	sum, err := a.fos.DescribeStreamSummary(ctx, engine.StreamRef{StreamName: a.stream})
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.streamARN = sum.StreamARN
	a.mu.Unlock()
	return sum.StreamARN, nil
}

// subscribeSlot waits until subscribeGap has passed since the App's
// latest SubscribeToShard on the shard and claims the next one. It reports
// false when ctx ended first.
func (a *App) subscribeSlot(ctx context.Context, shard string) bool {
	for {
		a.mu.Lock()
		wait := time.Duration(0)
		if last, ok := a.lastSubscribe[shard]; ok {
			wait = subscribeGap - time.Since(last)
		}
		if wait <= 0 {
			a.lastSubscribe[shard] = time.Now()
			a.mu.Unlock()
			return ctx.Err() == nil
		}
		a.mu.Unlock()
		if !sleepCtx(ctx, wait) {
			return false
		}
	}
}

// subscribed stamps the end of a SubscribeToShard call (the service counts
// from when it saw the call, which is no later) and counts it.
func (a *App) subscribed(shard string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastSubscribe[shard] = time.Now()
	if ok {
		a.subscriptions++
	}
}

// notFound is what a ResourceNotFoundException of a fan-out call meant.
type notFound int

const (
	notFoundShard    notFound = iota // the shard (or the stream) is gone
	notFoundConsumer                 // the consumer was deregistered
	notFoundUnknown                  // could not tell: try again later
)

// whyNotFound finds out whether a ResourceNotFoundException of a
// subscription meant the consumer or the shard.
func (a *App) whyNotFound(ctx context.Context, arn string) notFound {
	d, err := a.fos.DescribeStreamConsumer(ctx, engine.ConsumerRef{ConsumerARN: arn})
	switch {
	case err == nil && d.ConsumerStatus == engine.ConsumerDeleting:
		return notFoundConsumer
	case err == nil:
		return notFoundShard
	case !engine.IsCode(err, engine.ResourceNotFoundException):
		return notFoundUnknown
	}
	// No consumer: with its stream, or alone?
	streamARN, err := a.resolveStreamARN(ctx)
	if err == nil {
		_, err = a.fos.DescribeStreamSummary(ctx, engine.StreamRef{StreamARN: streamARN})
	}
	switch {
	case err == nil:
		return notFoundConsumer
	case engine.IsCode(err, engine.ResourceNotFoundException):
		return notFoundShard
	}
	return notFoundUnknown
}

// readFanOut follows the shard with SubscribeToShard from start until its
// end, the reader's stop, or the shard's disappearance, as read does with
// GetRecords: same de-aggregation, checkpoints and lag. A subscription
// that ends by itself (after 5 minutes) is renewed from its continuation
// sequence number, at most once a second.
func (c *shardConsumer) readFanOut(proc RecordProcessor, start ExtendedSequenceNumber) readResult {
	r := &fanOutReader{c: c, a: c.w.app, proc: proc, typ: engine.TrimHorizon, skip: start}
	switch start.SequenceNumber {
	case "", CheckpointTrimHorizon:
	case CheckpointLatest:
		r.typ = engine.Latest
	case CheckpointAtTimestamp:
		r.typ = engine.AtTimestamp
	default:
		// As read does: the checkpointed record again, what was processed
		// of it skipped (it may be a KPL aggregate only partly done).
		r.atSeq, r.skipping = start.SequenceNumber, true
	}
	return r.run()
}

// fanOutReader is the state of readFanOut, owned by the reader goroutine.
type fanOutReader struct {
	c    *shardConsumer
	a    *App
	proc RecordProcessor

	typ      engine.IteratorType
	atSeq    string // first subscription AT this checkpoint
	seq      string // AFTER this sequence number: where the last one stopped
	skip     ExtendedSequenceNumber
	skipping bool
	wait     time.Duration // backoff after a refusal or failure
}

// position is where the next subscription starts.
func (r *fanOutReader) position() engine.StartingPosition {
	switch {
	case r.seq != "":
		return engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: r.seq}
	case r.atSeq != "":
		return engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: r.atSeq}
	}
	if r.typ == engine.AtTimestamp {
		return engine.StartingPosition{Type: r.typ, Timestamp: r.a.cfg.StartTimestamp}
	}
	return engine.StartingPosition{Type: r.typ}
}

// backoff waits the next step of a doubling backoff from base; it reports
// false when the reader was stopped first.
func (r *fanOutReader) backoff(base time.Duration) bool {
	r.wait = grow(r.wait, base)
	return sleepCtx(r.c.ctx, r.wait)
}

func (r *fanOutReader) run() readResult {
	c, a := r.c, r.a
	for {
		if c.lost() {
			return readStopped
		}
		arn, ok := a.waitConsumer(c.ctx)
		if !ok || !a.subscribeSlot(c.ctx, c.id) {
			return readStopped
		}
		sub, err := a.fos.SubscribeToShard(c.ctx, engine.SubscribeToShardInput{ConsumerARN: arn, ShardID: c.id, StartingPosition: r.position()})
		a.subscribed(c.id, err == nil)
		if err != nil {
			if c.ctx.Err() != nil {
				return readStopped
			}
			more := true
			switch code := engine.CodeOf(err); {
			case code == engine.LimitExceededException || code == engine.ResourceInUseException:
				// Too soon after another call, or another subscription of
				// the consumer to the shard (a lease just moved here).
				a.count(&a.refused, 1)
				more = r.backoff(a.cfg.ThrottleBackoff)
			case code == engine.ResourceNotFoundException:
				var gone bool
				if gone, more = r.notFound(arn, err); gone {
					return readGone
				}
			case code == engine.InvalidArgumentException && r.seq == "" && r.atSeq != "":
				a.fail(c.id, fmt.Errorf("checkpoint %s not usable, reading from TRIM_HORIZON: %w", r.atSeq, err))
				r.atSeq, r.skipping, r.typ = "", false, engine.TrimHorizon
				c.cp.restart(ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon})
			default:
				a.fail(c.id, fmt.Errorf("subscribe to shard: %w", err))
				more = r.backoff(a.cfg.PollInterval)
			}
			if !more {
				return readStopped
			}
			continue
		}
		res, more := r.follow(sub, arn)
		sub.Close()
		if res != readStopped || !more {
			return res
		}
	}
}

// notFound handles a ResourceNotFoundException: gone reports that the
// shard (or its stream) is gone; otherwise more says whether to go on
// (a deregistered consumer is registered again meanwhile).
func (r *fanOutReader) notFound(arn string, err error) (gone, more bool) {
	c, a := r.c, r.a
	switch a.whyNotFound(c.ctx, arn) {
	case notFoundShard:
		a.stopShard(c.id, c.w.id, err)
		return true, false
	case notFoundConsumer:
		a.fail(c.id, fmt.Errorf("stream consumer %s deregistered, registering it again: %w", a.cfg.ConsumerName, err))
		a.dropConsumer(arn)
		return false, c.ctx.Err() == nil
	}
	a.fail(c.id, fmt.Errorf("subscribe to shard: %w", err))
	return false, r.backoff(a.cfg.PollInterval)
}

// follow hands a subscription's events to the processor until it ends. It
// returns readEnded at the shard's end, readGone when the shard vanished,
// else readStopped with more true when the reader should subscribe again.
func (r *fanOutReader) follow(sub FanOutStream, arn string) (res readResult, more bool) {
	c, a := r.c, r.a
	for {
		ev, err := sub.Next(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil || c.lost() {
				return readStopped, false
			}
			switch code := engine.CodeOf(err); {
			case errors.Is(err, io.EOF):
				// Expired (or closed under the reader): subscribe again
				// from where it stopped.
				return readStopped, true
			case code == engine.ResourceNotFoundException:
				gone, more := r.notFound(arn, err)
				if gone {
					return readGone, false
				}
				return readStopped, more
			case code == engine.ResourceInUseException:
				// Another subscription of the consumer took the shard over;
				// while this worker holds the lease it is the reader.
				a.fail(c.id, fmt.Errorf("subscription taken over: %w", err))
				return readStopped, r.backoff(a.cfg.ThrottleBackoff)
			default:
				a.fail(c.id, fmt.Errorf("subscription: %w", err))
				return readStopped, r.backoff(a.cfg.PollInterval)
			}
		}
		r.wait = 0
		if n := len(ev.Records); n > 0 {
			users, dropped := Deaggregate(ev.Records, c.rng)
			if dropped > 0 {
				a.count(&a.dropped, int64(dropped))
			}
			if r.skipping {
				users = skipThrough(users, r.skip)
				for _, rec := range ev.Records {
					if rec.SequenceNumber != r.skip.SequenceNumber {
						r.skipping = false
					}
				}
			}
			if !c.deliver(r.proc, users, ev.MillisBehindLatest) {
				return readStopped, false
			}
			r.seq, r.atSeq = ev.Records[n-1].SequenceNumber, ""
		} else {
			c.idle(r.proc)
		}
		if ev.ContinuationSequenceNumber != "" {
			r.seq, r.atSeq = ev.ContinuationSequenceNumber, ""
		}
		a.setLag(c.id, c.w.id, ev.MillisBehindLatest)
		if len(ev.ChildShards) > 0 {
			c.children = ev.ChildShards
			return readEnded, false
		}
	}
}
