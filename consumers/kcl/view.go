package kcl

import (
	"math/big"
	"sort"
	"time"
)

// Mark is one record the caller saw on a shard.
type Mark struct {
	SequenceNumber string
	// Arrival is the record's ApproximateArrivalTimestamp.
	Arrival time.Time
}

// ShardTip is what the caller has seen of a shard's records: a window of
// recent ones in sequence order, the last being the newest. A console that
// reads from LATEST has seen only what arrived since it started; lags
// reaching past the window are then lower bounds (Lag.AtLeast).
type ShardTip struct {
	Recent []Mark
}

// Lag is how far a lease's checkpoint is behind its shard's newest record.
type Lag struct {
	// Known is false when nothing can be said: no record of the shard was
	// seen, or the checkpoint is LATEST (nothing processed yet; reading
	// will start at the tip) or not a number.
	Known bool
	// Records counts the records seen after the checkpoint.
	Records int
	// Time is the age, at the time given to Summarize, of the oldest
	// record seen after the checkpoint: 0 when none is waiting. It is what
	// the iterator-age metric measures for a reader at the checkpoint.
	Time time.Duration
	// AtLeast is set when the checkpoint is older than every record seen:
	// the true lag is larger.
	AtLeast bool
}

// ShardView is one lease in a View.
type ShardView struct {
	Lease Lease
	Lag   Lag
}

// WorkerView is one worker: the leases it holds.
type WorkerView struct {
	ID string
	// Shards are the lease keys it holds, sorted.
	Shards []string
	// Records sums its shards' Lag.Records; AtLeast is set when one of
	// them is a lower bound.
	Records int
	AtLeast bool
}

// View is a lease table read for a console: workers, leases with their
// lag, and leases nobody holds.
type View struct {
	// Workers are the owners found in the table, by ID.
	Workers []WorkerView
	// Shards are every lease, by key.
	Shards []ShardView
	// Unowned are the keys of leases with no owner that are not at
	// SHARD_END (an ended lease without an owner is finished work).
	Unowned []string
}

// Summarize groups leases by owner and computes each checkpoint's lag from
// tips (keyed by shard ID) at time now.
func Summarize(leases []Lease, tips map[string]ShardTip, now time.Time) View {
	var v View
	byOwner := make(map[string]*WorkerView)
	sorted := append([]Lease(nil), leases...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for _, l := range sorted {
		lag := CheckpointLag(l, tips[l.ShardID], now)
		v.Shards = append(v.Shards, ShardView{Lease: l, Lag: lag})
		if l.Owner == "" {
			if !l.Ended() {
				v.Unowned = append(v.Unowned, l.Key)
			}
			continue
		}
		w := byOwner[l.Owner]
		if w == nil {
			w = &WorkerView{ID: l.Owner}
			byOwner[l.Owner] = w
		}
		w.Shards = append(w.Shards, l.Key)
		w.Records += lag.Records
		w.AtLeast = w.AtLeast || lag.AtLeast
	}
	for _, w := range byOwner {
		v.Workers = append(v.Workers, *w)
	}
	sort.Slice(v.Workers, func(i, j int) bool { return v.Workers[i].ID < v.Workers[j].ID })
	return v
}

// CheckpointLag returns how far l's checkpoint is behind the newest record
// in tip, at time now.
func CheckpointLag(l Lease, tip ShardTip, now time.Time) Lag {
	if l.Ended() {
		return Lag{Known: true}
	}
	if len(tip.Recent) == 0 {
		return Lag{}
	}
	behind := func(from int, atLeast bool) Lag {
		lag := Lag{Known: true, Records: len(tip.Recent) - from, AtLeast: atLeast}
		if lag.Records > 0 {
			lag.Time = max(0, now.Sub(tip.Recent[from].Arrival))
		}
		return lag
	}
	switch l.Checkpoint {
	case checkpointTrimHorizon, checkpointAtTimestamp:
		// Nothing checkpointed: everything seen is waiting, and perhaps more.
		return behind(0, true)
	}
	cp, ok := new(big.Int).SetString(l.Checkpoint, 10)
	if !ok {
		return Lag{}
	}
	// First record after the checkpoint (the checkpointed one is done,
	// whatever its sub-sequence number).
	i := sort.Search(len(tip.Recent), func(i int) bool {
		n, ok := new(big.Int).SetString(tip.Recent[i].SequenceNumber, 10)
		return !ok || n.Cmp(cp) > 0
	})
	first, _ := new(big.Int).SetString(tip.Recent[0].SequenceNumber, 10)
	return behind(i, i == 0 && first != nil && first.Cmp(cp) > 0)
}

// MoveKind says what happened to a lease between two reads.
type MoveKind string

// The kinds of Move.
const (
	// MoveTaken: a free lease got an owner.
	MoveTaken MoveKind = "taken"
	// MoveOwnerChanged: the lease went from one owner to another.
	MoveOwnerChanged MoveKind = "owner changed"
	// MoveReleased: the owner gave the lease up (or was evicted).
	MoveReleased MoveKind = "released"
	// MoveBounced: same owner, but ownerSwitchesSinceCheckpoint grew: the
	// lease went away and came back between the reads.
	MoveBounced MoveKind = "bounced"
	// MoveReset: leaseCounter went backwards: the lease was deleted and
	// created again.
	MoveReset MoveKind = "reset"
	// MoveCreated and MoveRemoved: the lease appeared or went.
	MoveCreated MoveKind = "created"
	MoveRemoved MoveKind = "removed"
	// MoveEnded: the checkpoint became SHARD_END.
	MoveEnded MoveKind = "ended"
)

// String returns the kind's name.
func (k MoveKind) String() string { return string(k) }

// Move is one lease event between two reads of a table.
type Move struct {
	Key  string
	Kind MoveKind
	// From and To are the owners before and after ("" for none).
	From, To string
	// CounterFrom and CounterTo are leaseCounter before and after.
	CounterFrom, CounterTo int64
}

// Moves compares two reads of a lease table and returns what changed
// owner, appeared, went, ended or had its counter go backwards, ordered by
// key. Renewals (the counter moving under the same owner) are not moves.
func Moves(prev, cur []Lease) []Move {
	before := make(map[string]Lease, len(prev))
	for _, l := range prev {
		before[l.Key] = l
	}
	var out []Move
	seen := make(map[string]bool, len(cur))
	for _, l := range cur {
		seen[l.Key] = true
		p, ok := before[l.Key]
		m := Move{Key: l.Key, From: p.Owner, To: l.Owner, CounterFrom: p.Counter, CounterTo: l.Counter}
		switch {
		case !ok:
			m.Kind, m.From, m.CounterFrom = MoveCreated, "", 0
		case l.Counter < p.Counter:
			m.Kind = MoveReset
		case p.Owner == "" && l.Owner != "":
			m.Kind = MoveTaken
		case p.Owner != "" && l.Owner == "":
			m.Kind = MoveReleased
		case p.Owner != l.Owner:
			m.Kind = MoveOwnerChanged
		case l.OwnerSwitchesSinceCheckpoint > p.OwnerSwitchesSinceCheckpoint:
			m.Kind = MoveBounced
		case l.Ended() && !p.Ended():
			m.Kind = MoveEnded
		default:
			continue
		}
		out = append(out, m)
	}
	for _, p := range prev {
		if !seen[p.Key] {
			out = append(out, Move{Key: p.Key, Kind: MoveRemoved, From: p.Owner, CounterFrom: p.Counter})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
