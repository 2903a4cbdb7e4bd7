package consumers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// consumerOutcome is how a shard reader ended.
type consumerOutcome int

const (
	outcomeStopped consumerOutcome = iota // told to stop (requested or crashed)
	outcomeEnded                          // read to its end, ShardEnd checkpointed
	outcomeGone                           // the source no longer knows the shard
	outcomeLost                           // the lease was lost
)

// shardConsumer reads one leased shard for a worker: it waits for the
// shard's parents, then feeds a RecordProcessor batch by batch.
type shardConsumer struct {
	w       *worker
	h       *heldLease
	id      string
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	outcome consumerOutcome // set before done is closed

	mu      sync.Mutex // guards reason and crashed
	reason  ShutdownReason
	crashed bool

	// Owned by the reader goroutine.
	rng      *engine.HashKeyRange
	children []engine.ChildShard
	cp       *checkpointer
}

// stop asks the reader to stop; ShutdownLeaseLost overrides a request.
func (c *shardConsumer) stop(reason ShutdownReason) {
	c.mu.Lock()
	if c.reason == 0 || reason == ShutdownLeaseLost {
		c.reason = reason
	}
	c.mu.Unlock()
	c.cancel()
}

func (c *shardConsumer) crash() {
	c.mu.Lock()
	c.crashed = true
	c.mu.Unlock()
	c.cancel()
}

// stopReason returns why the reader was told to stop, and whether its
// worker crashed (which it may learn before being told).
func (c *shardConsumer) stopReason() (ShutdownReason, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason, c.crashed || c.w.crashed.Load()
}

// lost reports whether the reader may no longer act for the lease.
func (c *shardConsumer) lost() bool {
	reason, crashed := c.stopReason()
	return crashed || reason == ShutdownLeaseLost || c.h.isLost()
}

func (c *shardConsumer) run() {
	a := c.w.app
	defer c.w.consumerDone()
	defer close(c.done)
	c.outcome = c.body()
	_, crashed := c.stopReason()
	keep := c.outcome == outcomeEnded || c.outcome == outcomeGone ||
		(c.outcome == outcomeStopped && !crashed && a.isStopping())
	a.unclaimShard(c.id, c.w.id, keep)
}

func (c *shardConsumer) body() consumerOutcome {
	a := c.w.app
	a.claimShard(c.id, c.w.id, StateWaiting)
	l := c.h.snapshot()
	start := l.Position()
	if l.Ended() {
		return outcomeEnded
	}
	if r, ok := l.hashRange(); ok {
		c.rng = &r
	} else if s, ok := a.listedShard(c.id); ok && knownRange(s.HashKeyRange) {
		r := s.HashKeyRange
		c.rng = &r
	}
	if !c.waitForParents(l.ParentShardIDs) {
		return c.stopped(nil)
	}
	proc := a.factory()
	c.cp = &checkpointer{c: c, current: start}
	if !c.initialize(proc, start) {
		return c.stopped(nil)
	}
	a.setShardState(c.id, c.w.id, StateReading)
	read := c.read
	if a.cfg.FanOut {
		read = c.readFanOut
	}
	switch read(proc, start) {
	case readEnded:
		return c.shardEnded(proc)
	case readGone:
		c.shutdown(proc, ShutdownRequested)
		return outcomeGone
	}
	return c.stopped(proc)
}

// stopped shuts proc down for the reason the reader was stopped (not at
// all after a crash).
func (c *shardConsumer) stopped(proc RecordProcessor) consumerOutcome {
	reason, crashed := c.stopReason()
	if c.h.isLost() {
		reason = ShutdownLeaseLost
	}
	if crashed {
		return outcomeStopped
	}
	if reason == 0 {
		reason = ShutdownRequested
	}
	if proc != nil {
		c.shutdown(proc, reason)
	}
	if reason == ShutdownLeaseLost {
		return outcomeLost
	}
	return outcomeStopped
}

// waitForParents waits until every parent lease has ended or is gone with
// its shard. It reports false when the reader is stopped first.
func (c *shardConsumer) waitForParents(parents []string) bool {
	a := c.w.app
	for {
		if c.ctx.Err() != nil || c.lost() {
			return false
		}
		done := true
		for _, p := range parents {
			pl, ok, err := a.table.Get(context.Background(), p)
			if err != nil {
				a.fail(c.id, fmt.Errorf("read parent lease %s: %w", p, err))
				done = false
				break
			}
			if ok && !pl.Ended() {
				done = false
				break
			}
			// A parent with no lease is gone only if a listing that already
			// shows this child lacks it: a listing older than the child may
			// predate the parent too (a merge of a shard born after it).
			if !ok && (a.mayBeListed(p) || !a.isListed(c.id)) {
				a.requestSync()
				done = false
				break
			}
		}
		if done {
			return true
		}
		ev := a.leaseEvents()
		t := time.NewTimer(a.cfg.PollInterval)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return false
		case <-ev:
			t.Stop()
		case <-t.C:
		}
	}
}

// initialize calls Initialize until it succeeds or the reader is stopped.
func (c *shardConsumer) initialize(proc RecordProcessor, start ExtendedSequenceNumber) bool {
	a := c.w.app
	var wait time.Duration
	for {
		err := safely(func() error { return proc.Initialize(c.id, start) })
		if err == nil {
			return true
		}
		a.fail(c.id, fmt.Errorf("initialize: %w", err))
		wait = grow(wait, a.cfg.PollInterval)
		if !sleepCtx(c.ctx, wait) {
			return false
		}
	}
}

func (c *shardConsumer) shutdown(proc RecordProcessor, reason ShutdownReason) {
	err := safely(func() error {
		proc.Shutdown(reason, c.cp)
		return nil
	})
	if err != nil {
		c.w.app.fail(c.id, fmt.Errorf("shutdown: %w", err))
	}
}

// safely calls fn, turning a panic into an error.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("processor panicked: %v", r)
		}
	}()
	return fn()
}

// shardEnded shuts the processor down with ShutdownShardEnded until the
// lease's checkpoint is ShardEnd, then creates the children's leases.
func (c *shardConsumer) shardEnded(proc RecordProcessor) consumerOutcome {
	a := c.w.app
	c.cp.allowShardEnd()
	var wait time.Duration
	for !c.cp.atShardEnd() {
		c.shutdown(proc, ShutdownShardEnded)
		if c.cp.atShardEnd() {
			break
		}
		if a.cfg.AutoCheckpoint {
			err := c.cp.Checkpoint()
			if err == nil {
				break
			}
			if !errors.Is(err, ErrLeaseLost) {
				a.fail(c.id, fmt.Errorf("save checkpoint: %w", err))
			}
		} else if !c.lost() {
			a.fail(c.id, errors.New("processor did not checkpoint at shard end; its children wait"))
		}
		if c.lost() {
			return outcomeLost
		}
		wait = grow(wait, a.cfg.PollInterval)
		if !sleepCtx(c.ctx, wait) {
			if c.lost() {
				return outcomeLost
			}
			return outcomeStopped
		}
	}
	for _, ch := range c.children {
		l := Lease{ShardID: ch.ShardID, Checkpoint: CheckpointTrimHorizon, ParentShardIDs: ch.ParentShards}
		if knownRange(ch.HashKeyRange) {
			l.StartingHashKey, l.EndingHashKey = ch.HashKeyRange.Start.String(), ch.HashKeyRange.End.String()
		}
		got, _, err := a.table.Create(context.Background(), l)
		if err != nil {
			a.fail(ch.ShardID, fmt.Errorf("create lease: %w", err))
			continue
		}
		a.noteLease(got)
	}
	a.setShardState(c.id, c.w.id, StateEnded)
	a.leaseEnded()
	a.requestSync()
	a.wakeWorkers()
	return outcomeEnded
}

type readResult int

const (
	readStopped readResult = iota
	readEnded
	readGone
)

// read follows the shard from start until its end, the reader's stop, or
// the shard's disappearance.
func (c *shardConsumer) read(proc RecordProcessor, start ExtendedSequenceNumber) readResult {
	a := c.w.app
	var (
		iter       string
		typ        = engine.TrimHorizon
		atSeq      string // first iterator AT this checkpoint
		seq        string // AFTER this sequence number: the last one read
		skip       = start
		skipping   bool
		lastCall   time.Time
		throttle   time.Duration
		errWait    time.Duration
		expiredRun int
	)
	switch start.SequenceNumber {
	case "", CheckpointTrimHorizon:
	case CheckpointLatest:
		typ = engine.Latest
	case CheckpointAtTimestamp:
		typ = engine.AtTimestamp
	default:
		// Re-read the checkpointed record and skip what was processed of
		// it: it may be a KPL aggregate only partly done.
		atSeq, skipping = start.SequenceNumber, true
	}
	pace := func() bool {
		if gap := a.cfg.MinReadInterval; gap > 0 && !lastCall.IsZero() {
			return sleepCtx(c.ctx, gap-time.Since(lastCall))
		}
		return c.ctx.Err() == nil
	}
	throttled := func() bool {
		a.count(&a.throttled, 1)
		throttle = grow(throttle, a.cfg.ThrottleBackoff)
		return sleepCtx(c.ctx, throttle)
	}
	failed := func(err error) bool {
		a.fail(c.id, err)
		errWait = grow(errWait, a.cfg.PollInterval)
		return sleepCtx(c.ctx, errWait)
	}
	for {
		if c.lost() {
			return readStopped
		}
		if iter == "" {
			in := engine.GetShardIteratorInput{StreamRef: a.ref(), ShardID: c.id, ShardIteratorType: typ}
			if typ == engine.AtTimestamp {
				in.Timestamp = a.cfg.StartTimestamp
			}
			switch {
			case seq != "":
				in.ShardIteratorType, in.StartingSequenceNumber = engine.AfterSequenceNumber, seq
			case atSeq != "":
				in.ShardIteratorType, in.StartingSequenceNumber = engine.AtSequenceNumber, atSeq
			}
			it, err := a.src.GetShardIterator(c.ctx, in)
			if err != nil {
				if c.ctx.Err() != nil {
					return readStopped
				}
				var more bool
				switch code := engine.CodeOf(err); {
				case code == engine.ResourceNotFoundException:
					a.stopShard(c.id, c.w.id, err)
					return readGone
				case code == engine.ProvisionedThroughputExceededException:
					more = throttled()
				case code == engine.InvalidArgumentException && seq == "" && atSeq != "":
					// The stored checkpoint is not a sequence number of
					// this shard (left from an earlier stream of the same
					// name): read from the start rather than lose records.
					a.fail(c.id, fmt.Errorf("checkpoint %s not usable, reading from TRIM_HORIZON: %w", atSeq, err))
					atSeq, skipping, typ = "", false, engine.TrimHorizon
					c.cp.restart(ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon})
					more = true
				default:
					more = failed(fmt.Errorf("get shard iterator: %w", err))
				}
				if !more {
					return readStopped
				}
				continue
			}
			iter = it
		}
		if !pace() {
			return readStopped
		}
		out, err := a.src.GetRecords(c.ctx, engine.GetRecordsInput{ShardIterator: iter, Limit: a.cfg.Limit})
		lastCall = time.Now()
		if err != nil {
			if c.ctx.Err() != nil {
				return readStopped
			}
			more := true
			switch engine.CodeOf(err) {
			case engine.ExpiredIteratorException:
				a.count(&a.expired, 1)
				iter = ""
				expiredRun++
				if expiredRun > 1 {
					more = sleepCtx(c.ctx, a.cfg.PollInterval)
				}
			case engine.ProvisionedThroughputExceededException:
				more = throttled()
			case engine.ResourceNotFoundException:
				a.stopShard(c.id, c.w.id, err)
				return readGone
			default:
				iter = ""
				more = failed(fmt.Errorf("get records: %w", err))
			}
			if !more {
				return readStopped
			}
			continue
		}
		throttle, errWait, expiredRun = 0, 0, 0

		if n := len(out.Records); n > 0 {
			users, dropped := Deaggregate(out.Records, c.rng)
			if dropped > 0 {
				a.count(&a.dropped, int64(dropped))
			}
			if skipping {
				users = skipThrough(users, skip)
				for _, r := range out.Records {
					if r.SequenceNumber != skip.SequenceNumber {
						skipping = false
					}
				}
			}
			if !c.deliver(proc, users, out.MillisBehindLatest) {
				return readStopped
			}
			seq, atSeq = out.Records[n-1].SequenceNumber, ""
		}
		a.setLag(c.id, c.w.id, out.MillisBehindLatest)

		if out.NextShardIterator == "" {
			c.children = out.ChildShards
			return readEnded
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			c.idle(proc)
		}
		if len(out.Records) == 0 && !sleepCtx(c.ctx, a.cfg.PollInterval) {
			return readStopped
		}
	}
}

// skipThrough drops the user records at or before pos of pos's record.
func skipThrough(users []UserRecord, pos ExtendedSequenceNumber) []UserRecord {
	out := users[:0]
	for _, u := range users {
		if u.SequenceNumber == pos.SequenceNumber && u.SubSequenceNumber <= pos.SubSequenceNumber {
			continue
		}
		out = append(out, u)
	}
	return out
}

// deliver hands a batch to the processor until it accepts it, then
// checkpoints it when AutoCheckpoint is set. It reports false when the
// reader must stop (stopped, lease lost).
func (c *shardConsumer) deliver(proc RecordProcessor, users []UserRecord, lag int64) bool {
	if len(users) == 0 {
		return true
	}
	a := c.w.app
	c.cp.delivered(users[len(users)-1].Position())
	in := ProcessRecordsInput{ShardID: c.id, Records: users, MillisBehindLatest: lag}
	var wait time.Duration
	for {
		if c.lost() {
			return false
		}
		err := safely(func() error { return proc.ProcessRecords(in, c.cp) })
		if err == nil {
			break
		}
		a.fail(c.id, fmt.Errorf("process: %w", err))
		wait = grow(wait, a.cfg.PollInterval)
		if !sleepCtx(c.ctx, wait) {
			return false
		}
	}
	a.processed(c.id, len(users))
	if a.cfg.AutoCheckpoint {
		// Written even while stopping, so that a restart does not see the
		// batch again; refused once the lease is lost.
		if err := c.cp.Checkpoint(); err != nil && !errors.Is(err, ErrLeaseLost) {
			a.fail(c.id, fmt.Errorf("save checkpoint: %w", err))
		}
	}
	return !c.lost()
}

// idle tells an IdleProcessor that a read brought nothing new.
func (c *shardConsumer) idle(proc RecordProcessor) {
	ip, ok := proc.(IdleProcessor)
	if !ok || c.lost() {
		return
	}
	if err := safely(func() error { return ip.ProcessIdle(c.id, c.cp) }); err != nil {
		c.w.app.fail(c.id, fmt.Errorf("process idle: %w", err))
	}
}

// checkpointer is the Checkpointer of one shard reader.
type checkpointer struct {
	c *shardConsumer

	mu         sync.Mutex // guards what follows
	current    ExtendedSequenceNumber
	largest    ExtendedSequenceNumber
	hasLargest bool
}

var _ Checkpointer = (*checkpointer)(nil)

// delivered raises the largest position a checkpoint may name.
func (k *checkpointer) delivered(pos ExtendedSequenceNumber) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.hasLargest || pos.compare(k.largest) > 0 {
		k.largest, k.hasLargest = pos, true
	}
}

func (k *checkpointer) allowShardEnd() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.largest, k.hasLargest = ExtendedSequenceNumber{SequenceNumber: ShardEnd}, true
}

func (k *checkpointer) atShardEnd() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current.SequenceNumber == ShardEnd
}

// restart sets where reading really starts, when the stored checkpoint
// could not be used.
func (k *checkpointer) restart(pos ExtendedSequenceNumber) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = pos
}

// Checkpoint records the last record delivered (ShardEnd at a shard's end).
func (k *checkpointer) Checkpoint() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.hasLargest {
		if k.c.lost() {
			return ErrLeaseLost
		}
		return nil // nothing delivered yet
	}
	return k.write(k.largest)
}

// CheckpointAt records a position between the last checkpoint and the last
// record delivered.
func (k *checkpointer) CheckpointAt(sequenceNumber string, subSequenceNumber int64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	pos := ExtendedSequenceNumber{SequenceNumber: sequenceNumber, SubSequenceNumber: subSequenceNumber}
	switch {
	case sequenceNumber == ShardEnd:
		if subSequenceNumber != 0 || k.largest.SequenceNumber != ShardEnd {
			return fmt.Errorf("%w: %s before the shard's end", ErrCheckpointOutOfRange, pos)
		}
	case !isSequenceNumber(sequenceNumber) || subSequenceNumber < 0:
		return fmt.Errorf("%w: %q", ErrInvalidCheckpoint, pos.String())
	case pos.compare(k.current) < 0:
		return fmt.Errorf("%w: %s is before the checkpoint %s", ErrCheckpointOutOfRange, pos, k.current)
	case !k.hasLargest || pos.compare(k.largest) > 0:
		return fmt.Errorf("%w: %s is after the last record delivered", ErrCheckpointOutOfRange, pos)
	}
	return k.write(pos)
}

// write saves pos in the lease (conditional on holding it) and copies it
// to the CheckpointStore. Called with k.mu held.
func (k *checkpointer) write(pos ExtendedSequenceNumber) error {
	c := k.c
	if c.lost() {
		return ErrLeaseLost
	}
	if pos == k.current {
		return nil
	}
	h := c.h
	h.mu.Lock()
	_, err := c.w.writeHeld(h, func(l *Lease) {
		l.Checkpoint, l.CheckpointSubSequenceNumber = pos.SequenceNumber, pos.SubSequenceNumber
		l.OwnerSwitchesSinceCheckpoint = 0
	})
	h.mu.Unlock()
	if err != nil {
		return err
	}
	k.current = pos
	a := c.w.app
	if pos.SequenceNumber == ShardEnd {
		a.leaseEnded()
	}
	if a.cps != nil {
		if err := a.cps.Save(context.Background(), a.name, c.id, pos.String()); err != nil {
			a.fail(c.id, fmt.Errorf("save checkpoint: %w", err))
		}
	}
	return nil
}

// sleepCtx waits d on a real timer; it reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// grow returns the next wait of a doubling backoff from base, capped at 8×base.
func grow(cur, base time.Duration) time.Duration {
	switch {
	case cur < base:
		return base
	case cur >= 4*base:
		return 8 * base
	}
	return 2 * cur
}
