package engine

import (
	"sort"
	"time"
)

// Snapshot is an immutable picture of the engine for the console: every
// stream, every listed shard, and rolling per-second counters. The engine
// builds a new one for each call; nothing in it is shared with the engine.
type Snapshot struct {
	At      time.Time
	Streams []StreamSnapshot
	// Limits tells whether the data-plane limits are enforced.
	LimitsEnabled bool
	// Sync is the store's durability mode ("fsync" or "none").
	Sync string
	// WriteBlocked says why the store refuses appends right now (a
	// checkpoint failing on a full disk; they resume by themselves), or "".
	WriteBlocked string
	// Events are the most recent engine events (at most MaxEvents), oldest
	// first; Seq increases by one per event so a reader can skip those it saw.
	Events []Event
}

// MaxEvents is how many recent events a Snapshot carries.
const MaxEvents = 200

// EventKind classifies an engine event.
type EventKind string

// The kinds of engine events.
const (
	EventStream    EventKind = "stream"    // created, deleted, status changes
	EventReshard   EventKind = "reshard"   // split, merge, update shard count
	EventRetention EventKind = "retention" // retention changed or records trimmed
	EventThrottle  EventKind = "throttle"  // a burst of throttled writes or reads on a shard
	EventMode      EventKind = "mode"      // capacity mode changes and scaling decisions
	EventError     EventKind = "error"     // storage or internal failures
)

// Event is something that happened in the engine, explained for people.
type Event struct {
	Seq     uint64
	At      time.Time
	Kind    EventKind
	Stream  string
	ShardID string
	Message string
}

// Stream returns the snapshot of the named stream, or nil.
func (s *Snapshot) Stream(name string) *StreamSnapshot {
	for i := range s.Streams {
		if s.Streams[i].Name == name {
			return &s.Streams[i]
		}
	}
	return nil
}

// StreamSnapshot is one stream in a Snapshot.
type StreamSnapshot struct {
	Name           string
	ARN            string
	Status         StreamStatus
	Mode           StreamMode
	RetentionHours int
	Created        time.Time
	OpenShards     int
	ClosedShards   int
	// Shards lists open shards first, each group by index.
	Shards []ShardSnapshot
	// Totals over all the stream's shards for the last complete second.
	// Rate.BytesOut and RecordsOut are shared reads (GetRecords and
	// in-process Subscribe); enhanced fan-out reads are in FanOut.
	Rate Rate
	// Utilisation is how close the last complete second's writes came to
	// the open shards' write capacity.
	Utilisation Utilisation
	// Cost prices the last minute's workload in both capacity modes.
	Cost CostEstimate
	// Consumers are the enhanced fan-out consumers, by name; FanOut is
	// what they read in the last complete second, all together.
	Consumers []ConsumerSnapshot
	FanOut    Rate
	// Scaling is the on-demand scaler's state; nil for PROVISIONED.
	Scaling *ScalingStatus
	// EnhancedMetrics are the shard-level metrics turned on (none: nil).
	EnhancedMetrics []string
	// MaxRecordSizeKiB is the stream's record size limit.
	MaxRecordSizeKiB int
	// WarmThroughput is set for ON_DEMAND streams.
	WarmThroughput *WarmThroughput
	// EncryptionType is KMS when new records are encrypted at rest, and
	// KeyID then names the key; NONE and "" otherwise.
	EncryptionType string
	KeyID          string
}

// Utilisation is a stream's write load as a share of its open shards'
// capacity (1,000 records/s and 1 MiB/s each).
type Utilisation struct {
	Records float64
	Bytes   float64
	// Max is the larger share, the one nearer its limit; By names it:
	// "records" or "bytes".
	Max float64
	By  string
}

// ShardSnapshot is one shard in a Snapshot.
type ShardSnapshot struct {
	Shard
	Index    int
	Open     bool
	Children []string
	// Records is how many records the shard holds now.
	Records int64
	// Bytes is how many payload bytes (data + partition key) the shard holds.
	Bytes int64
	// Oldest is the arrival time of the shard's oldest record (zero when empty).
	Oldest time.Time
	// NewestSequenceNumber is the sequence number of the newest record
	// readable in the shard, and Newest its arrival time; "" and zero
	// before the first record. Trimming does not change them, so a
	// reader's lag is measured against them (see SequenceGap).
	NewestSequenceNumber string
	Newest               time.Time
	// Rate is the last complete second's counters; its reads are the
	// shared ones (GetRecords), and FanOut holds what enhanced fan-out
	// consumers read from the shard in that second, all together.
	Rate   Rate
	FanOut Rate
	// History holds the counters of the last HistorySeconds seconds, oldest first.
	History []Rate
	// Totals since the engine started.
	TotalRecordsIn    int64
	TotalThrottled    int64
	TotalReadThrottle int64
	// WriteUtilisation is the last complete second's writes as a share of
	// the shard's write limit (records or bytes, whichever is nearer).
	WriteUtilisation float64
	// HotSince and ColdSince are when the on-demand scaler began to see the
	// open shard as hot or cold (zero when it is neither, or PROVISIONED).
	HotSince, ColdSince time.Time
}

// HistorySeconds is how many one-second buckets a shard's history keeps.
const HistorySeconds = 120

// Rate is what happened on a shard (or a stream) in one second.
type Rate struct {
	BytesIn        int64
	RecordsIn      int64
	BytesOut       int64
	RecordsOut     int64
	ReadCalls      int64
	WriteThrottled int64 // records rejected with ProvisionedThroughputExceededException
	ReadThrottled  int64 // GetRecords calls rejected
}

func (r *Rate) add(o Rate) {
	r.BytesIn += o.BytesIn
	r.RecordsIn += o.RecordsIn
	r.BytesOut += o.BytesOut
	r.RecordsOut += o.RecordsOut
	r.ReadCalls += o.ReadCalls
	r.WriteThrottled += o.WriteThrottled
	r.ReadThrottled += o.ReadThrottled
}

func sortStreams(s []StreamSnapshot) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}
