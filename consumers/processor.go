package consumers

import (
	"errors"

	"github.com/shardscope/shardscope/engine"
)

// ShutdownReason says why a RecordProcessor is shut down.
type ShutdownReason int

// The shutdown reasons, as in the KCL 2.x.
const (
	// ShutdownLeaseLost: another worker took the shard's lease (or this
	// one could not renew it). No checkpoint is possible.
	ShutdownLeaseLost ShutdownReason = iota + 1
	// ShutdownShardEnded: the shard was read to its end. The processor
	// should call Checkpoint, which records ShardEnd so the shard's
	// children can be read; with Config.AutoCheckpoint the worker does it
	// when the processor does not.
	ShutdownShardEnded
	// ShutdownRequested: the worker is stopping gracefully. The processor
	// may checkpoint; the lease is handed back afterwards.
	ShutdownRequested
)

// String returns the reason's name.
func (r ShutdownReason) String() string {
	switch r {
	case ShutdownLeaseLost:
		return "lease-lost"
	case ShutdownShardEnded:
		return "shard-ended"
	case ShutdownRequested:
		return "requested"
	}
	return "unknown"
}

// Checkpointer records how far a RecordProcessor got in its shard. It is
// only valid during the call it was passed to.
type Checkpointer interface {
	// Checkpoint records the last record delivered so far (ShardEnd during
	// a ShutdownShardEnded).
	Checkpoint() error
	// CheckpointAt records the given position, which must lie between the
	// last checkpoint and the last record delivered. subSequenceNumber is
	// the index within a KPL aggregate, 0 for a plain record.
	CheckpointAt(sequenceNumber string, subSequenceNumber int64) error
}

// Checkpoint errors.
var (
	// ErrCheckpointOutOfRange: the position is before the last checkpoint
	// or after the last record delivered.
	ErrCheckpointOutOfRange = errors.New("consumers: checkpoint out of range")
	// ErrInvalidCheckpoint: the position is not a sequence number.
	ErrInvalidCheckpoint = errors.New("consumers: invalid checkpoint")
)

// ProcessRecordsInput is one batch of a shard's records.
type ProcessRecordsInput struct {
	ShardID string
	// Records are in sequence order, KPL aggregates expanded.
	Records []UserRecord
	// MillisBehindLatest is how far the batch is behind the shard's tip.
	MillisBehindLatest int64
}

// RecordProcessor processes one shard for a worker, as the KCL's
// ShardRecordProcessor does: Initialize once, ProcessRecords for each batch,
// Shutdown once at the end (not at all when the worker crashes). Calls for
// one processor never overlap.
type RecordProcessor interface {
	// Initialize is called before the first batch with the shard and the
	// checkpoint reading starts after. An error is counted and the call
	// retried later.
	Initialize(shardID string, start ExtendedSequenceNumber) error
	// ProcessRecords handles a batch. An error (or a panic) is counted and
	// the same batch offered again later.
	ProcessRecords(in ProcessRecordsInput, cp Checkpointer) error
	// Shutdown ends the processor; see ShutdownReason.
	Shutdown(reason ShutdownReason, cp Checkpointer)
}

// IdleProcessor is a RecordProcessor that may hold records across calls
// (a batching window, a buffer) and so wants a call when a read brings
// nothing new, to send what it holds once its time is up. Calls never
// overlap the processor's other calls.
type IdleProcessor interface {
	RecordProcessor
	// ProcessIdle is called after a read (or fan-out event) without
	// records. An error (or a panic) is counted.
	ProcessIdle(shardID string, cp Checkpointer) error
}

// RecordProcessorFactory makes one RecordProcessor per shard lease.
type RecordProcessorFactory func() RecordProcessor

// Adapt returns a factory of RecordProcessors that hand each batch to p
// (shared by every shard, so it must be safe for concurrent use) and
// leave checkpointing to Config.AutoCheckpoint. The records p sees are the
// user records, each with its container's sequence number.
func Adapt(p Processor) RecordProcessorFactory {
	return func() RecordProcessor { return &adapted{p: p} }
}

type adapted struct {
	p     Processor
	shard string
}

func (a *adapted) Initialize(shardID string, _ ExtendedSequenceNumber) error {
	a.shard = shardID
	return nil
}

func (a *adapted) ProcessRecords(in ProcessRecordsInput, _ Checkpointer) error {
	recs := make([]engine.Record, len(in.Records))
	for i, r := range in.Records {
		recs[i] = r.Record
	}
	return a.p.Process(in.ShardID, recs)
}

func (a *adapted) Shutdown(ShutdownReason, Checkpointer) {}
