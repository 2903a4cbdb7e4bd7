package engine

import (
	"slices"
	"sync"
	"time"
)

// clockJumpTolerance is how far the wall clock may drift from the
// monotonic clock between two retention passes before it counts as a jump
// worth an event. (NTP slews far less; it steps only larger errors.)
const clockJumpTolerance = time.Second

// retentionClock remembers where background retention stood, so that a
// wall clock set forward cannot trim more than the time that has passed.
type retentionClock struct {
	mu   sync.Mutex
	wall time.Time     // wall time at the last pass
	mono time.Duration // monotonic reading at the last pass
	at   time.Time     // the time the last pass trimmed to
}

// retentionPass is one pass of the background trimmer.
func (e *Engine) retentionPass() error {
	now := e.clock.Now()
	return e.applyRetention(now, e.retentionTime(now))
}

// retentionTime returns the time background retention may trim to at
// wall time now: never later than now, and never further past the last
// pass than the monotonic clock has moved. After a forward jump retention
// therefore lags the wall clock by the jump (records are kept longer,
// never dropped early) until the engine restarts; after a backward jump it
// follows the wall clock, which allows less. Jumps are logged as events.
func (e *Engine) retentionTime(now time.Time) time.Time {
	mc, ok := e.clock.(MonotonicClock)
	if !ok {
		return now
	}
	mono, ok := mc.Monotonic()
	if !ok {
		return now
	}
	rc := &e.retClock
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.at.IsZero() {
		rc.wall, rc.mono, rc.at = now, mono, now
		return now
	}
	passed := mono - rc.mono
	// Round(0) drops a monotonic reading, so Sub compares wall times.
	jump := now.Round(0).Sub(rc.wall.Round(0)) - passed
	switch {
	case jump >= clockJumpTolerance:
		e.event(EventRetention, "", "", "clock jumped forward by %v; retention trims only by the %v that passed", jump, passed.Round(time.Millisecond))
	case jump <= -clockJumpTolerance:
		e.event(EventRetention, "", "", "clock jumped back by %v; retention follows the wall clock, which trims less", -jump)
	}
	at := rc.at.Add(passed)
	if now.Before(at) {
		at = now
	}
	rc.wall, rc.mono, rc.at = now, mono, at
	return at
}

// every runs fn on a ticker until the engine closes; failures become
// error events named by what.
func (e *Engine) every(interval time.Duration, what string, fn func(now time.Time) error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				if err := fn(e.clock.Now()); err != nil {
					e.event(EventError, "", "", "%s: %v", what, err)
				}
			}
		}
	}()
}

// ApplyRetention trims every record older than its stream's retention at
// now, in bounded transactions, expires closed shards whose records are all
// gone, and finishes deletions whose delay has passed. Tests and demos call
// it to drive time; the background trimmer does the same with a time
// guarded against wall-clock jumps.
func (e *Engine) ApplyRetention(now time.Time) error {
	return e.applyRetention(now, now)
}

// applyRetention finishes deletions due at now and trims records and
// shards by their retention at trimAt.
func (e *Engine) applyRetention(now, trimAt time.Time) error {
	e.settleReshards()
	type job struct {
		s      *stream
		shards []*shard
		cutoff time.Time
	}
	var jobs []job
	var purge []*stream
	e.mu.RLock()
	for _, s := range e.streams {
		if s.deleting {
			if !now.Before(s.deleteAt) {
				purge = append(purge, s)
			}
			continue
		}
		jobs = append(jobs, job{s: s, shards: append([]*shard(nil), s.shards...), cutoff: trimAt.Add(-time.Duration(s.retention) * time.Hour)})
	}
	e.mu.RUnlock()

	if len(purge) > 0 {
		e.mu.Lock()
		for _, s := range purge {
			if e.streams[s.name] == s {
				e.purge(s)
				e.event(EventStream, s.name, "", "stream %s deleted", s.name)
			}
		}
		e.mu.Unlock()
	}

	for _, j := range jobs {
		var trimmed int64
		var expired []*shard
		saved := false
		for _, sh := range j.shards {
			oldest := sh.oldest.Load()
			if oldest != 0 && oldest < j.cutoff.UnixMilli() {
				if !saved {
					// Keep each shard's next position on disk before its
					// records go, so positions never repeat after a reopen.
					e.mu.RLock()
					err := e.saveStream(j.s)
					e.mu.RUnlock()
					if err != nil {
						return err
					}
					saved = true
				}
				n, err := e.trimShard(sh, j.cutoff.UnixMilli())
				trimmed += n
				if err != nil {
					return err
				}
			}
			sh.mu.Lock()
			done := sh.closed && sh.closedAt.Before(j.cutoff) && len(sh.inflight) == 0
			sh.mu.Unlock()
			if done {
				expired = append(expired, sh)
			}
		}
		if trimmed > 0 {
			e.event(EventRetention, j.s.name, "", "trimmed %d records older than %dh from %s", trimmed, int(trimAt.Sub(j.cutoff).Hours()), j.s.name)
		}
		if len(expired) > 0 {
			if err := e.expireShards(j.s, expired); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) trimShard(sh *shard, cutoff int64) (int64, error) {
	var total int64
	for {
		n, b, more, err := e.db.TrimBefore(sh.ref, cutoff, e.opts.TrimBatch)
		if err != nil {
			return total, err
		}
		total += n
		sh.records.Add(-n)
		sh.bytes.Add(-b)
		if !more {
			break
		}
	}
	head, ok, err := e.db.Head(sh.ref)
	if err != nil {
		return total, err
	}
	if ok {
		sh.oldest.Store(head.Arrival)
	} else {
		sh.oldest.Store(0)
	}
	return total, nil
}

// expireShards removes closed shards whose retention has passed.
func (e *Engine) expireShards(s *stream, expired []*shard) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.streams[s.name] != s {
		return nil
	}
	gone := map[*shard]bool{}
	for _, sh := range expired {
		gone[sh] = true
	}
	kept := s.shards[:0]
	for _, sh := range s.shards {
		if !gone[sh] {
			kept = append(kept, sh)
		}
	}
	s.shards = kept
	if err := e.saveStream(s); err != nil {
		return err
	}
	for _, sh := range expired {
		sh.closeSubscriptions()
		if err := e.db.DropShard(sh.ref); err != nil {
			return err
		}
		sh.records.Store(0)
		sh.bytes.Store(0)
		e.event(EventRetention, s.name, sh.id, "closed shard %s expired: retention has passed", sh.id)
	}
	return nil
}

// Snapshot returns an immutable picture of every stream for the console.
func (e *Engine) Snapshot() Snapshot {
	e.settleReshards()
	now := e.clock.Now()
	snap := Snapshot{At: now, LimitsEnabled: !e.opts.DisableLimits, Sync: e.db.SyncMode().String(), Events: e.events.list()}
	if err := e.db.WriteBlocked(); err != nil {
		snap.WriteBlocked = err.Error()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, s := range e.streams {
		if e.gone(s) {
			continue
		}
		ss := StreamSnapshot{Name: s.name, ARN: e.arn(s.name), Status: s.status(now), Mode: s.mode, RetentionHours: s.retention, Created: s.created,
			EnhancedMetrics: slices.Clone(s.metrics), MaxRecordSizeKiB: s.recordSizeKiB(), WarmThroughput: s.warmThroughput()}
		ss.EncryptionType, ss.KeyID = s.encryption()
		var open, closed []ShardSnapshot
		for _, sh := range s.shards {
			d := sh.describe()
			hist, totals := sh.metrics.history(e.rateTime(now))
			shs := ShardSnapshot{
				Shard: d, Index: int(sh.index), Open: d.Open(),
				Records: sh.records.Load(), Bytes: sh.bytes.Load(),
				History: hist, Rate: hist[len(hist)-1],
				TotalRecordsIn: totals.RecordsIn, TotalThrottled: totals.WriteThrottled, TotalReadThrottle: totals.ReadThrottled,
			}
			if o := sh.oldest.Load(); o != 0 {
				shs.Oldest = fromMs(o)
			}
			if v := sh.visible.Load(); v > 1 {
				sh.mu.Lock()
				last := sh.lastArrival
				sh.mu.Unlock()
				shs.NewestSequenceNumber, shs.Newest = formatSeq(sh.index, v-1), fromMs(last)
			}
			shs.FanOut = sh.fanout.last(e.rateTime(now))
			for _, c := range s.children(sh.id) {
				shs.Children = append(shs.Children, c.ShardID)
			}
			ss.Rate.add(shs.Rate)
			if shs.Open {
				open = append(open, shs)
			} else {
				closed = append(closed, shs)
			}
		}
		ss.OpenShards, ss.ClosedShards = len(open), len(closed)
		ss.Shards = append(open, closed...)
		e.snapshotExtras(s, &ss, now)
		snap.Streams = append(snap.Streams, ss)
	}
	sortStreams(snap.Streams)
	return snap
}
