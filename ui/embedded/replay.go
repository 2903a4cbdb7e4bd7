package embedded

import (
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/ui"
)

var _ ui.Replayer = (*Backend)(nil)

// ShardIterator is GetShardIterator on the engine: it counts against the
// shard's 5 iterator calls/s like any reader's.
func (b *Backend) ShardIterator(stream, shardID string, from engine.StartingPosition) (string, error) {
	return b.e.GetShardIterator(b.ctx, engine.GetShardIteratorInput{StreamRef: b.stream(stream), ShardID: shardID,
		ShardIteratorType: from.Type, StartingSequenceNumber: from.SequenceNumber, Timestamp: from.Timestamp})
}

// ReadShard is GetRecords on the engine: it shares the shard's 5 reads/s
// and 2 MiB/s with the consumers, and is throttled as they are.
func (b *Backend) ReadShard(stream, shardID, iterator string, limit int) (ui.ReplayPage, error) {
	out, err := b.e.GetRecords(b.ctx, engine.GetRecordsInput{ShardIterator: iterator, Limit: limit})
	if err != nil {
		return ui.ReplayPage{}, err
	}
	return ui.ReplayPageOf(stream, shardID, out), nil
}
