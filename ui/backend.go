package ui

import (
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Backend is everything the console needs from the rest of shardscope.
// main.go adapts the engine, the producers and the consumers to it; tests
// use a fake.
//
// The read methods (Snapshot, DrainFeed, FeedDropped, Producers,
// Consumers) are called once per tick from a tea.Cmd goroutine, one call
// at a time. The actions are called from tea.Cmd goroutines too, possibly
// concurrently with a tick, and never from Update or View. An action
// returns a sentence for the events pane, or an error whose text is shown
// as is (engine errors read "<KinesisErrorName>: message").
type Backend interface {
	// Snapshot returns an immutable picture of the engine; it must be cheap.
	Snapshot() engine.Snapshot
	// DrainFeed appends the records committed since the last call to dst,
	// oldest first, and returns it. The feed is bounded and may drop.
	DrainFeed(dst []engine.TapRecord) []engine.TapRecord
	// FeedDropped returns how many records the feed dropped so far.
	FeedDropped() uint64
	// Producers returns the synthetic producers, in a stable order.
	Producers() []ProducerView
	// Consumers returns the consumer applications, in a stable order.
	Consumers() []ConsumerView

	// SplitShard splits the shard at the midpoint of its hash-key range.
	SplitShard(stream, shardID string) (string, error)
	// MergeShards merges two adjacent open shards.
	MergeShards(stream, shardID, adjacentShardID string) (string, error)
	// SetRetention sets the stream's retention period in hours.
	SetRetention(stream string, hours int) (string, error)
	// TimeLapse moves the engine clock forward by d: records age and
	// retention trims as if d had passed.
	TimeLapse(d time.Duration) (string, error)
	// ProducerScale multiplies the producer's target rate by factor.
	ProducerScale(name string, factor float64) (string, error)
	// ProducerBurst runs the producer at ten times its rate for a few seconds.
	ProducerBurst(name string) (string, error)
	// ProducerToggle switches the producer on or off.
	ProducerToggle(name string) (string, error)
	// ProducerCycleSkew moves the producer's key skew to the next one
	// (uniform → zipf → hot key → uniform).
	ProducerCycleSkew(name string) (string, error)
}

// ProducerView is one synthetic producer as the console shows it.
type ProducerView struct {
	Name string
	On   bool
	// Rate is the target rate and ActualRate the measured one, in records/s.
	Rate, ActualRate float64
	// Skew names the key distribution ("uniform", "zipf", "hot 30%").
	Skew string
	// Counters since the producer started.
	Sent, Throttled, Retried, GivenUp, Errors int64
	// Bursting is true while a burst runs.
	Bursting bool
	// LastError is the text of the most recent error, "" when none.
	LastError string
}

// ConsumerView is one consumer application as the console shows it.
type ConsumerView struct {
	Name string
	// Lag is how far the application is behind the newest record.
	Lag time.Duration
	// ShardsDone of Shards are caught up (or finished, for closed shards).
	ShardsDone, Shards int
	// Records processed and reads throttled since the application started.
	Records   int64
	Throttled int64
	// Summary holds one to three short lines of live results, such as
	// "top: / 31%  /cart 12%".
	Summary []string
	// PerShardLag is the lag of each shard the application reads, by shard ID.
	PerShardLag map[string]time.Duration
}
