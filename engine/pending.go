package engine

import (
	"time"
)

// A reshard with Options.UpdateDelay is deferred, as the service does it:
// while the stream is UPDATING it keeps its old layout (the parents stay
// open and take the writes), and the split, merge or scaling takes effect
// when the stream is ACTIVE again, at that time. Like the stream states,
// this needs no timer: the first call that looks at the stream after the
// due time applies what is pending (settleReshards), under the write lock.

// reshardOp is one deferred reshard, persisted with its stream.
type reshardOp struct {
	Kind     string `json:"kind"` // "split", "merge" or "scale"
	Shard    uint32 `json:"shard,omitempty"`
	Adjacent uint32 `json:"adjacent,omitempty"`
	Key      string `json:"key,omitempty"`    // split: NewStartingHashKey
	Target   int    `json:"target,omitempty"` // scale: TargetShardCount
}

// deferReshard records op to apply when the stream's update delay ends, or
// applies it now when there is none. e.mu is held.
func (e *Engine) deferReshard(s *stream, op reshardOp, now time.Time) {
	s.updatingUntil = now.Add(e.opts.UpdateDelay)
	if e.opts.UpdateDelay <= 0 {
		e.applyReshard(s, op, now)
		return
	}
	s.pending = append(s.pending, op)
	if due := s.updatingUntil.UnixMilli(); e.pendingDue.Load() == 0 || due < e.pendingDue.Load() {
		e.pendingDue.Store(due)
	}
	e.event(EventReshard, s.name, "", "%s of %s: takes effect when the stream is ACTIVE again (%s)", op.Kind, s.name, e.opts.UpdateDelay)
}

// applyReshard carries out one reshard at time at. e.mu is held.
func (e *Engine) applyReshard(s *stream, op reshardOp, at time.Time) {
	switch op.Kind {
	case "split":
		sh := s.shardByIndex(op.Shard)
		key, ok := ParseHashKey(op.Key)
		if sh == nil || sh.isClosed() || !ok {
			e.event(EventError, s.name, "", "deferred split of shard %d no longer applies", op.Shard)
			return
		}
		low, high := e.split(s, sh, key, at)
		e.event(EventReshard, s.name, sh.id, "split %s at %s → %s, %s", sh.id, describeKey(key), low.id, high.id)
	case "merge":
		a, b := s.shardByIndex(op.Shard), s.shardByIndex(op.Adjacent)
		if a == nil || b == nil || a.isClosed() || b.isClosed() || !adjacent(a.rng, b.rng) {
			e.event(EventError, s.name, "", "deferred merge of shards %d and %d no longer applies", op.Shard, op.Adjacent)
			return
		}
		child := e.merge(s, a, b, at)
		e.event(EventReshard, s.name, a.id, "merged %s and %s → %s", a.id, b.id, child.id)
	case "scale":
		cur := len(s.openShards())
		e.reshape(s, evenRanges(op.Target), at)
		e.event(EventReshard, s.name, "", "scaled %s uniformly from %d to %d open shards", s.name, cur, op.Target)
	}
}

// settleReshards applies the reshards that are due. Calls that read a stream's
// layout call it first; it costs one atomic load when nothing is due.
func (e *Engine) settleReshards() {
	due := e.pendingDue.Load()
	if due == 0 || e.clock.Now().UnixMilli() < due {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applyDue(e.clock.Now())
}

// applyDue applies every due reshard of every stream. e.mu is held.
func (e *Engine) applyDue(now time.Time) {
	if e.pendingDue.Load() == 0 {
		return
	}
	var next int64
	for _, s := range e.streams {
		if len(s.pending) == 0 {
			continue
		}
		if s.deleting {
			s.pending = nil
			continue
		}
		if now.Before(s.updatingUntil) {
			if due := s.updatingUntil.UnixMilli(); next == 0 || due < next {
				next = due
			}
			continue
		}
		ops := s.pending
		s.pending = nil
		for _, op := range ops {
			e.applyReshard(s, op, s.updatingUntil)
		}
		if err := e.saveStream(s); err != nil {
			e.event(EventError, s.name, "", "saving the stream after its reshard: %v", err)
		}
	}
	e.pendingDue.Store(next)
}

// dueTime returns when the next deferred reshard is due, zero if none.
func (e *Engine) dueTime() time.Time { return fromMs(e.pendingDue.Load()) }
