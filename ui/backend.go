package ui

import (
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Backend is everything the console needs from the rest of shardscope.
// Package ui/embedded adapts the in-process engine, producers and consumers
// to it; ui/remote adapts a Kinesis endpoint through the AWS SDK; the ui
// tests use a fake.
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
	// ProducerToggleAggregate switches the producer's KPL aggregation on
	// or off (many user records packed into one Kinesis record).
	ProducerToggleAggregate(name string) (string, error)

	// ToggleCapacityMode switches the stream to the other capacity mode
	// (PROVISIONED ↔ ON_DEMAND), as UpdateStreamMode does; the sentence
	// says which mode it is in now.
	ToggleCapacityMode(stream string) (string, error)
	// AddConsumer starts a new consumer application on the stream and
	// returns a sentence naming it: a polling one (GetRecords, sharing each
	// shard's 2 MiB/s and 5 reads/s) when fanOut is false, an enhanced
	// fan-out one (a registered stream consumer with a dedicated 2 MiB/s
	// per shard, read with SubscribeToShard) when true.
	AddConsumer(stream string, fanOut bool) (string, error)
	// RemoveConsumer stops the named consumer application of the stream
	// (a fan-out one also deregisters its stream consumer). When no
	// application has that name it deregisters the stream consumer of
	// that name, one registered from outside.
	RemoveConsumer(stream, name string) (string, error)
	// StopWorker stops one worker of a consumer application abruptly, as
	// a crash would: it stops renewing its leases without handing them
	// back, so the application's other workers take them over once they
	// expire and read on from the last checkpoints.
	StopWorker(app, worker string) (string, error)
}

// ProducerView is one synthetic producer as the console shows it.
type ProducerView struct {
	Name string
	On   bool
	// Rate is the target rate and ActualRate the measured one, in records/s.
	Rate, ActualRate float64
	// Skew names the key distribution ("uniform", "zipf", "hot 30%").
	Skew string
	// Counters since the producer started, in records: Throttled and
	// Failed are attempts the stream rejected (over its limits, or for
	// another reason); each was then Retried or GivenUp. Errors counts
	// calls that failed as a whole.
	Sent, Throttled, Retried, GivenUp, Errors int64
	Failed                                    int64
	// Bursting is true while a burst runs.
	Bursting bool
	// Aggregating is true while KPL aggregation is on.
	Aggregating bool
	// LastError is the text of the most recent error, "" when none.
	LastError string
}

// Consumer kinds, for ConsumerView.Kind.
const (
	KindPolling = "polling" // GetRecords: shares each shard's read limits
	KindFanOut  = "fan-out" // SubscribeToShard: a dedicated pipe per shard
)

// ConsumerView is one consumer application as the console shows it.
type ConsumerView struct {
	Name string
	// Stream is the stream the application reads; "" shows it with every
	// stream.
	Stream string
	// Added is set for an application started from the console (a, f),
	// not one the backend runs of its own: A and F remove those first.
	Added bool
	// Kind is KindPolling or KindFanOut ("" counts as polling). A fan-out
	// application's registered stream consumer has the application's Name,
	// so the console finds its throughput in the snapshot.
	Kind string
	// Lag is how far the application is behind the newest record: the
	// largest over its shards of the time between the newest record's
	// arrival and that of the last record the application read (or
	// checkpointed). It grows while nobody reads a shard.
	Lag time.Duration
	// Behind is how many records the application has yet to read, over
	// all its shards (0 when the backend cannot tell).
	Behind int64
	// ShardsDone of Shards are caught up (less than a second behind their
	// newest record) or read to their end (SHARD_END).
	ShardsDone, Shards int
	// Records processed and reads throttled since the application started.
	Records   int64
	Throttled int64
	// Summary holds one to three short lines of live results, such as
	// "top: / 31%  /cart 12%".
	Summary []string
	// PerShardLag is the lag of each shard the application reads, by shard ID.
	PerShardLag map[string]time.Duration

	// Workers are the application's workers in a stable order, each with
	// the shards whose leases it holds (ordered by ID); stopped ones stay
	// listed with Stopped set.
	Workers []WorkerView
	// PerShard is the application's lease table, ordered by shard ID:
	// checkpoint, lag and owner of every shard it knows.
	PerShard []ShardLagView
	// ReadThrottled counts the application's reads refused with
	// ProvisionedThroughputExceededException in the last complete second
	// (Throttled is the total since it started).
	ReadThrottled int64
	// Events are what happened to the application since the previous call
	// of Consumers, one sentence each, for the events pane: a lease taken
	// over by another worker, a parent shard read to its end and its
	// children started. Optional.
	Events []string
}

// WorkerView is one worker of a consumer application.
type WorkerView struct {
	ID string
	// Leases are the shard IDs whose leases the worker holds.
	Leases []string
	// Stopped is true once the worker stopped (or crashed).
	Stopped bool
}

// ShardLagView is one shard of a consumer application's lease table.
type ShardLagView struct {
	ShardID string
	// Lag is how far the application is behind the shard's newest record
	// (see ConsumerView.Lag), Behind how many records.
	Lag    time.Duration
	Behind int64
	// Checkpoint is the last checkpointed sequence number, or
	// TRIM_HORIZON, LATEST or SHARD_END; "" when none yet.
	Checkpoint string
	// Owner is the worker holding the lease, "" when it is free.
	Owner string
}

// AroundReporter is implemented by a backend that runs applications
// around its streams — Lambda-style triggers, Firehose-style deliveries,
// the Kinesis Agent (the console's --config) — for the around pane.
type AroundReporter interface {
	// Around returns them in a stable order; empty hides the pane.
	Around() []AroundView
}

// AroundView is one trigger, delivery or agent flow.
type AroundView struct {
	// Kind is "trigger", "delivery" or "agent".
	Kind string
	// Name is the mapping's, delivery stream's or flow's name; Target what
	// it feeds or reads: the function, the destination, the file pattern.
	Name, Target string
	// Figures are one or two lines of live figures.
	Figures []string
	// LastError is the latest failure's text, "" when none.
	LastError string
}

// Attached is implemented by a backend attached to a stream it does not
// run (shardscope attach); the header then says where, how the console
// reads, whether it may write, and a lost connection.
type Attached interface {
	Attachment() Attachment
}

// Attachment is what the header shows of an attached backend.
type Attachment struct {
	// Where is the region or endpoint, shown as "▸ stream @ Where".
	Where string
	// Reads is the read budget, such as "GetRecords 1/s per shard · 20 %
	// of 5 reads/s".
	Reads string
	// ReadsShort is Reads for a narrow header: "20 % of 5 reads/s".
	ReadsShort string
	// Writes is true with --allow-writes; WritesNote says what the
	// producers may cost ("producers ≤ 100 rec/s ≈ $0.0050/h").
	Writes     bool
	WritesNote string
	// Encryption is the stream's server-side encryption ("KMS"), "" for none.
	Encryption string
	// Lost says how long the endpoint has not answered; "" while it does.
	Lost string
	// Problem is the latest service error, "" when none is recent.
	Problem string
}

// Replayer is implemented by a backend that can re-read one shard from a
// starting position (the replay key), as any GetRecords reader does: its
// reads count against the shard's read limits and may be throttled. The
// calls come from tea.Cmd goroutines, one at a time per replay.
type Replayer interface {
	// ShardIterator is GetShardIterator on one shard of the stream; the
	// position's Timestamp is on the engine's clock.
	ShardIterator(stream, shardID string, from engine.StartingPosition) (string, error)
	// ReadShard is one GetRecords call at the iterator for at most limit
	// records. Records come back whole (a KPL aggregate stays one record).
	ReadShard(stream, shardID, iterator string, limit int) (ReplayPage, error)
}

// ReplayPage is one GetRecords response of a replay.
type ReplayPage struct {
	Records []engine.TapRecord
	// Next is the next iterator, "" once the shard was read to its end
	// (SHARD_END); Children then names the shards that continue it.
	Next     string
	Children []string
	// MillisBehind is MillisBehindLatest: 0 once the read reached the
	// newest record.
	MillisBehind int64
}

// TapRecords turns records read from a shard into the feed's records:
// the hash key is the explicit one, else the MD5 of the partition key.
func TapRecords(stream, shardID string, recs []engine.Record) []engine.TapRecord {
	out := make([]engine.TapRecord, 0, len(recs))
	for _, r := range recs {
		hk := engine.HashPartitionKey(r.PartitionKey)
		if h, ok := engine.ParseHashKey(r.ExplicitHashKey); ok && r.ExplicitHashKey != "" {
			hk = h
		}
		out = append(out, engine.TapRecord{Stream: stream, ShardID: shardID, HashKey: hk, Record: r})
	}
	return out
}

// ReplayPageOf turns a GetRecords output into a ReplayPage.
func ReplayPageOf(stream, shardID string, out engine.GetRecordsOutput) ReplayPage {
	p := ReplayPage{Records: TapRecords(stream, shardID, out.Records), Next: out.NextShardIterator, MillisBehind: out.MillisBehindLatest}
	for _, c := range out.ChildShards {
		p.Children = append(p.Children, c.ShardID)
	}
	return p
}
