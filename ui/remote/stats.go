package remote

import (
	"github.com/shardscope/shardscope/consumers/kcl"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// histSeconds is how many one-second buckets a shard keeps, as the
// engine's history does.
const histSeconds = engine.HistorySeconds

// bucket is one second of a shard: records by their arrival time (what was
// written), and what the console itself did in that second of its own
// clock (reads, records read, throttling).
type bucket struct {
	sec                      int64
	recordsIn, bytesIn       int64
	recordsOut, bytesOut     int64
	readCalls, readThrottled int64
}

// ring is histSeconds buckets indexed by Unix second.
type ring [histSeconds]bucket

func (r *ring) at(sec int64) *bucket {
	b := &r[uint64(sec)%histSeconds]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	return b
}

// get returns the bucket of sec, zero when the ring no longer (or not yet)
// holds it.
func (r *ring) get(sec int64) bucket {
	b := r[uint64(sec)%histSeconds]
	if b.sec != sec {
		return bucket{sec: sec}
	}
	return b
}

// shardState is what the console knows and measured of one shard.
type shardState struct {
	id string
	// pos is where reading starts; set when the shard is first seen.
	pos engine.StartingPosition
	// started is set once a reader runs; done once it read the shard to
	// its end (or skipped it: a closed shard when starting at LATEST).
	started, done bool
	skipped       bool
	children      []string

	in   ring // by arrival second
	seen ring // by the console's second

	records, throttled int64
	lagMillis          int64
	lastSeq            string
	lastRead           time.Time
	// recent are the newest records read (at most recentMarks), for the
	// lag of a KCL lease's checkpoint.
	recent []kcl.Mark
}

// recentMarks bounds the records kept per shard for lease-table lags.
const recentMarks = 4096

// account adds one read's records.
func (s *shardState) account(now time.Time, recs []engine.Record, lag int64) {
	out := s.seen.at(now.Unix())
	for i := range recs {
		r := &recs[i]
		n := int64(len(r.Data) + len(r.PartitionKey))
		out.recordsOut++
		out.bytesOut += n
		if !r.ApproximateArrivalTimestamp.IsZero() {
			b := s.in.at(r.ApproximateArrivalTimestamp.Unix())
			b.recordsIn++
			b.bytesIn += n
		}
		s.lastSeq = r.SequenceNumber
		if len(s.recent) == recentMarks {
			s.recent = append(s.recent[:0], s.recent[recentMarks/4:]...)
		}
		s.recent = append(s.recent, kcl.Mark{SequenceNumber: r.SequenceNumber, Arrival: r.ApproximateArrivalTimestamp})
	}
	s.records += int64(len(recs))
	s.lagMillis = lag
	s.lastRead = now
}

// rate is the shard's measured rate at now: writes averaged over the
// window of arrival seconds the reads have surely covered (ending settle
// before now), the console's own reads over the last complete second.
func (s *shardState) rate(now time.Time, settle time.Duration) engine.Rate {
	const window = 3
	end := now.Add(-settle).Unix()
	var r engine.Rate
	for sec := end - window + 1; sec <= end; sec++ {
		b := s.in.get(sec)
		r.RecordsIn += b.recordsIn
		r.BytesIn += b.bytesIn
	}
	r.RecordsIn /= window
	r.BytesIn /= window
	o := s.seen.get(now.Unix() - 1)
	r.RecordsOut, r.BytesOut, r.ReadCalls, r.ReadThrottled = o.recordsOut, o.bytesOut, o.readCalls, o.readThrottled
	return r
}

// history is the last histSeconds seconds ending settle before now.
func (s *shardState) history(now time.Time, settle time.Duration) []engine.Rate {
	end := now.Add(-settle).Unix()
	own := now.Unix() - 1
	h := make([]engine.Rate, histSeconds)
	for i := range h {
		back := int64(histSeconds - 1 - i)
		b := s.in.get(end - back)
		o := s.seen.get(own - back)
		h[i] = engine.Rate{RecordsIn: b.recordsIn, BytesIn: b.bytesIn, RecordsOut: o.recordsOut, BytesOut: o.bytesOut,
			ReadCalls: o.readCalls, ReadThrottled: o.readThrottled}
	}
	return h
}
