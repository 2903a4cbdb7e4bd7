package remote

import (
	"errors"
	"io"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// subscribeGap is the least time between two SubscribeToShard calls on one
// shard: the service allows one a second per consumer and shard.
const subscribeGap = time.Second + 5*time.Millisecond

// subscribe reads one shard through the fan-out consumer, subscribing
// again where the last subscription stopped (each lasts 5 minutes).
func (b *Backend) subscribe(st *shardState, consumerARN string) {
	defer b.wg.Done()
	ctx := b.ctx
	b.mu.Lock()
	pos := st.pos
	b.mu.Unlock()
	var w backoff
	var last time.Time
	for ctx.Err() == nil {
		if d := time.Until(last.Add(subscribeGap)); d > 0 && !sleepCtx(ctx, d) {
			return
		}
		last = time.Now()
		sub, err := b.c.SubscribeToShard(ctx, engine.SubscribeToShardInput{ConsumerARN: consumerARN, ShardID: st.id, StartingPosition: pos})
		if err != nil {
			if unsupported(err) {
				b.fallBack(err)
				b.mu.Lock()
				st.pos = pos
				b.mu.Unlock()
				b.wg.Add(1)
				go b.poll(st)
				return
			}
			b.fail("SubscribeToShard "+st.id, st.id, err)
			if !sleepCtx(ctx, w.next()) {
				return
			}
			continue
		}
		b.ok()
		w.reset()
		b.took(st, nil, 0, 1)
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				sub.Close()
				if !errors.Is(err, io.EOF) {
					b.fail("SubscribeToShard "+st.id, st.id, err)
				}
				break
			}
			b.took(st, ev.Records, ev.MillisBehindLatest, 0)
			if ev.ContinuationSequenceNumber != "" {
				pos = engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: ev.ContinuationSequenceNumber}
			}
			if len(ev.ChildShards) > 0 && ev.ContinuationSequenceNumber == "" {
				sub.Close()
				b.ended(st, ev.ChildShards)
				return
			}
		}
	}
}
