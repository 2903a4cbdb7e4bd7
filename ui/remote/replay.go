package remote

import (
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/ui"
	"golang.org/x/time/rate"
)

var _ ui.Replayer = (*Backend)(nil)

// budget is a shard's read budget (one GetRecords call per ReadInterval),
// shared by the shard's reader and a replay of it: a replay slows the
// console's own reading of the shard rather than adding to the stream's
// load.
func (b *Backend) budget(shardID string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.budgets == nil {
		b.budgets = map[string]*rate.Limiter{}
	}
	l := b.budgets[shardID]
	if l == nil {
		l = rate.NewLimiter(rate.Every(b.cfg.ReadInterval), 1)
		b.budgets[shardID] = l
	}
	return l
}

// ShardIterator is GetShardIterator on the attached stream.
func (b *Backend) ShardIterator(stream, shardID string, from engine.StartingPosition) (string, error) {
	return b.c.GetShardIterator(b.ctx, engine.GetShardIteratorInput{StreamRef: engine.StreamRef{StreamName: stream}, ShardID: shardID,
		ShardIteratorType: from.Type, StartingSequenceNumber: from.SequenceNumber, Timestamp: from.Timestamp})
}

// ReadShard is GetRecords on the attached stream, within the shard's read
// budget: it waits for its turn.
func (b *Backend) ReadShard(stream, shardID, iterator string, limit int) (ui.ReplayPage, error) {
	if err := b.budget(shardID).Wait(b.ctx); err != nil {
		return ui.ReplayPage{}, err
	}
	out, err := b.c.GetRecords(b.ctx, engine.GetRecordsInput{ShardIterator: iterator, Limit: limit})
	if err != nil {
		if engine.IsCode(err, engine.ProvisionedThroughputExceededException) {
			b.mu.Lock()
			st := b.states[shardID]
			b.mu.Unlock()
			if st != nil {
				b.throttled(st, err)
			}
		}
		return ui.ReplayPage{}, err
	}
	return ui.ReplayPageOf(stream, shardID, out), nil
}
