package consumers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// WorkerState is where a worker is in its life.
type WorkerState string

// The worker states.
const (
	WorkerRunning  WorkerState = "running"
	WorkerStopping WorkerState = "stopping"
	WorkerStopped  WorkerState = "stopped"
	WorkerCrashed  WorkerState = "crashed"
)

// String returns the state's name.
func (s WorkerState) String() string { return string(s) }

// WorkerStats is one worker in Stats.
type WorkerStats struct {
	ID    string
	State WorkerState
	// Leases are the shards whose lease the worker holds (by the latest
	// view of the lease table), ordered by ID.
	Leases []string
	// Taken counts leases taken free or expired; Stolen those taken from a
	// live worker to balance; Lost those another worker took (or that could
	// not be renewed).
	Taken, Stolen, Lost int64
	// LastCycle is the clock time of the worker's latest look at its
	// leases.
	LastCycle time.Time
}

// worker is one KCL-style worker of an App: a goroutine that renews,
// takes and steals leases and runs a shardConsumer per lease it holds.
type worker struct {
	app *App
	id  string

	stopOnce, crashOnce sync.Once
	stopCh, crashCh     chan struct{}
	// ctx ends when the worker crashes: a crashed worker renews nothing.
	ctx          context.Context
	cancel       context.CancelFunc
	crashed      atomic.Bool
	wake, reapCh chan struct{}
	done         chan struct{}

	// Owned by the loop goroutine.
	held      map[string]*heldLease
	consumers map[string]*shardConsumer
	seen      map[string]seenLease
	lastRenew time.Time
	lastTake  time.Time
	lastLook  time.Time // clock time of the previous cycle
	stopping  bool

	mu            sync.Mutex // guards what follows; a leaf lock
	state         WorkerState
	cycleAt       time.Time
	taken, stolen int64
	lost          int64
}

// heldLease is a lease the worker holds. Its mutex serializes the
// worker's conditional writes of it (renewals, checkpoints, release), so
// the expected counter is always the latest.
type heldLease struct {
	id string

	mu      sync.Mutex // guards what follows
	counter int64
	lease   Lease
	lastOK  time.Time // last successful write, by the clock
	lost    bool      // no more writes: taken by another, released, or crashed

	stopped bool // loop goroutine only: the shard cannot be read (gone)
}

func (h *heldLease) snapshot() Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lease
}

func (h *heldLease) isLost() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// seenLease is when a worker first saw a lease's current counter and
// owner: a lease is expired once that is LeaseDuration ago.
type seenLease struct {
	counter int64
	owner   string
	since   time.Time
}

func newWorker(a *App, id string) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{
		ctx:       ctx,
		cancel:    cancel,
		app:       a,
		id:        id,
		stopCh:    make(chan struct{}),
		crashCh:   make(chan struct{}),
		wake:      make(chan struct{}, 1),
		reapCh:    make(chan struct{}, 1),
		done:      make(chan struct{}),
		held:      make(map[string]*heldLease),
		consumers: make(map[string]*shardConsumer),
		seen:      make(map[string]seenLease),
		state:     WorkerRunning,
	}
}

func (w *worker) requestStop() { w.stopOnce.Do(func() { close(w.stopCh) }) }

func (w *worker) crash() {
	w.crashed.Store(true)
	w.crashOnce.Do(func() {
		w.cancel()
		close(w.crashCh)
	})
}

// poke asks the worker to take free leases now.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// consumerDone tells the worker a shard reader has returned.
func (w *worker) consumerDone() {
	select {
	case w.reapCh <- struct{}{}:
	default:
	}
}

func (w *worker) setState(s WorkerState) {
	w.mu.Lock()
	w.state = s
	w.mu.Unlock()
}

func (w *worker) stats() WorkerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WorkerStats{ID: w.id, State: w.state, Taken: w.taken, Stolen: w.stolen, Lost: w.lost, LastCycle: w.cycleAt}
}

// steppedClock is a clock that moves only when told to and says so, such
// as an engine.ManualClock that offers Changed: workers then look at their
// leases as soon as it moves rather than at the next LeaseCheckInterval.
type steppedClock interface {
	Changed() <-chan struct{}
}

func (w *worker) loop() {
	defer close(w.done)
	defer w.cancel()
	t := time.NewTicker(w.app.cfg.LeaseCheckInterval)
	defer t.Stop()
	stepped, _ := w.app.cfg.Clock.(steppedClock)
	w.cycle(true)
	for {
		if w.crashed.Load() {
			w.die()
			return
		}
		var moved <-chan struct{}
		if stepped != nil {
			moved = stepped.Changed()
		}
		select {
		case <-moved:
			w.cycle(false)
		case <-w.crashCh:
			w.die()
			return
		case <-w.stopCh:
			w.shutdown(t)
			return
		case <-w.wake:
			w.cycle(true)
		case <-w.reapCh:
			w.cycle(false)
		case <-t.C:
			w.cycle(false)
		}
	}
}

// cycle does what is due at the clock's time: reap finished readers, renew,
// take (free leases at once when woken), start readers.
func (w *worker) cycle(woken bool) {
	if w.crashed.Load() {
		return
	}
	cfg := &w.app.cfg
	now := cfg.Clock.Now()
	if !w.lastLook.IsZero() && now.Sub(w.lastLook) > cfg.LeaseDuration {
		// The clock jumped (a time-lapse) or this worker stalled: it saw
		// nothing meanwhile, so no lease can be judged expired from what it
		// saw before. Observe afresh.
		for id, sl := range w.seen {
			sl.since = now
			w.seen[id] = sl
		}
	}
	w.lastLook = now
	w.reap()
	var all map[string]Lease
	if w.lastRenew.IsZero() || now.Sub(w.lastRenew) >= cfg.RenewInterval {
		all = w.renew(now)
		w.lastRenew = now
	}
	scheduled := w.lastTake.IsZero() || now.Sub(w.lastTake) >= cfg.TakeInterval
	if scheduled || woken {
		w.take(now, scheduled, all)
		if scheduled {
			w.lastTake = now
		}
	}
	w.startConsumers()
	w.mu.Lock()
	w.cycleAt = now
	w.mu.Unlock()
}

// observe notes when each lease's counter was first seen, for expiry.
func (w *worker) observe(all map[string]Lease, now time.Time) {
	for id, l := range all {
		if s, ok := w.seen[id]; !ok || s.counter != l.Counter || s.owner != l.Owner {
			w.seen[id] = seenLease{counter: l.Counter, owner: l.Owner, since: now}
		}
	}
	for id := range w.seen {
		if _, ok := all[id]; !ok {
			delete(w.seen, id)
		}
	}
}

// available reports whether a lease may be taken: free, left under this
// worker's ID by an earlier process, or unchanged for LeaseDuration.
func (w *worker) available(l Lease, now time.Time) bool {
	switch {
	case l.Ended():
		return false
	case l.Owner == "":
		return true
	case l.Owner == w.id:
		return w.held[l.ShardID] == nil
	}
	s, ok := w.seen[l.ShardID]
	return ok && s.counter == l.Counter && now.Sub(s.since) > w.app.cfg.LeaseDuration
}

// renew moves the counter of every held lease (LeaseTable.Renew) and reads
// the whole table. Leases found changed are lost; leases that could
// not be renewed for LeaseDuration are given up.
func (w *worker) renew(now time.Time) map[string]Lease {
	a := w.app
	if len(w.held) == 0 {
		all, err := a.table.List(context.Background())
		if err != nil {
			a.fail("", fmt.Errorf("read leases: %w", err))
			return nil
		}
		w.observe(all, now)
		a.setLeaseView(all, true)
		return all
	}
	ids := make([]string, 0, len(w.held))
	for id := range w.held {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	expect := make(map[string]int64, len(ids))
	for _, id := range ids {
		h := w.held[id]
		h.mu.Lock()
		if !h.lost {
			expect[id] = h.counter
		}
	}
	renewed, conflicts, all, err := a.table.Renew(w.ctx, w.id, expect, now)
	var lost []*heldLease
	for _, id := range ids {
		h := w.held[id]
		switch {
		case h.lost:
		case conflicts[id]:
			h.lost = true
		case renewed[id].ShardID != "":
			h.counter = renewed[id].Counter
			h.lastOK = now
			h.lease = renewed[id]
		default: // in doubt after an error
			if now.Sub(h.lastOK) > a.cfg.LeaseDuration {
				h.lost = true
			}
		}
		if h.lost {
			lost = append(lost, h)
		}
		h.mu.Unlock()
	}
	if err != nil && !errors.Is(err, ErrLeaseLost) && w.ctx.Err() == nil {
		a.fail("", fmt.Errorf("renew leases: %w", err))
	}
	for _, h := range lost {
		w.forget(h)
	}
	if all == nil {
		return nil
	}
	w.observe(all, now)
	a.setLeaseView(all, true)
	return all
}

// forget drops a lease the worker no longer holds and stops its reader.
func (w *worker) forget(h *heldLease) {
	if w.held[h.id] != h {
		return
	}
	delete(w.held, h.id)
	w.mu.Lock()
	w.lost++
	w.mu.Unlock()
	if c := w.consumers[h.id]; c != nil && c.h == h {
		c.stop(ShutdownLeaseLost)
	}
}

// take takes free and expired leases up to the worker's share
// (ceil(leases/workers)); when there are none and steal is set, it takes
// up to MaxLeasesToSteal from the worker holding the most, as the KCL's
// lease taker does. all is a fresh read of the table, or nil.
func (w *worker) take(now time.Time, steal bool, all map[string]Lease) {
	select {
	case <-w.stopCh:
		return // stopping: take nothing more
	default:
	}
	a := w.app
	if all == nil {
		var err error
		if all, err = a.table.List(context.Background()); err != nil {
			a.fail("", fmt.Errorf("read leases: %w", err))
			return
		}
		w.observe(all, now)
		a.setLeaseView(all, true)
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	counts := map[string]int{w.id: 0}
	byOwner := make(map[string][]Lease)
	var avail []Lease
	total := 0
	for _, id := range ids {
		l := all[id]
		if l.Ended() {
			continue
		}
		total++
		switch {
		case w.held[id] != nil:
			counts[w.id]++
		case w.available(l, now):
			avail = append(avail, l)
		default:
			counts[l.Owner]++
			byOwner[l.Owner] = append(byOwner[l.Owner], l)
		}
	}
	if total == 0 {
		return
	}
	target := (total + len(counts) - 1) / len(counts)
	need := target - counts[w.id]
	if need <= 0 {
		return
	}
	if len(avail) > 0 {
		// A lease another worker was quicker to take leaves room for the
		// next one: otherwise a free lease could wait a whole TakeInterval.
		for _, l := range avail {
			if need == 0 {
				break
			}
			if w.takeLease(l, now, false) {
				need--
			}
		}
		return
	}
	if !steal {
		return
	}
	most, mostN := "", 0
	for owner, n := range counts {
		if owner != w.id && (n > mostN || (n == mostN && owner < most)) {
			most, mostN = owner, n
		}
	}
	if most == "" || mostN < target {
		return
	}
	n := min(need, mostN-target)
	if n == 0 && need > 1 {
		n = 1
	}
	n = min(n, a.cfg.MaxLeasesToSteal)
	victims := byOwner[most]
	for _, l := range victims[len(victims)-n:] {
		w.takeLease(l, now, true)
	}
}

// takeLease takes l if it is still as read: same owner and, unless it is
// stolen from a live worker (whose renewals may move the counter meanwhile),
// same counter. It reports whether it did.
func (w *worker) takeLease(l Lease, now time.Time, stolen bool) bool {
	a := w.app
	got, err := a.table.Update(context.Background(), l.ShardID, func(cur *Lease, exists bool) error {
		if !exists || cur.Owner != l.Owner || (!stolen && cur.Counter != l.Counter) || cur.Ended() || w.crashed.Load() {
			return errConflict
		}
		if cur.Owner != "" && cur.Owner != w.id {
			cur.OwnerSwitchesSinceCheckpoint++
		}
		cur.Owner = w.id
		cur.Counter++
		cur.LastRenewed = now
		return nil
	})
	if errors.Is(err, errConflict) {
		return false // another worker was quicker
	}
	if err != nil {
		a.fail(l.ShardID, fmt.Errorf("take lease: %w", err))
		return false
	}
	w.held[l.ShardID] = &heldLease{id: l.ShardID, counter: got.Counter, lease: got, lastOK: now}
	a.noteLease(got)
	w.mu.Lock()
	if stolen {
		w.stolen++
	} else {
		w.taken++
	}
	w.mu.Unlock()
	if l.Owner != "" && l.Owner != w.id {
		a.count(&a.moves, 1)
	}
	return true
}

// writeHeld changes a held lease in one conditional transaction (owner and
// counter as expected), moving its counter. Called with h.mu held.
func (w *worker) writeHeld(h *heldLease, fn func(l *Lease)) (Lease, error) {
	if h.lost || w.crashed.Load() {
		return Lease{}, ErrLeaseLost
	}
	a := w.app
	now := a.cfg.Clock.Now()
	l, err := a.table.Update(context.Background(), h.id, func(cur *Lease, exists bool) error {
		if !exists || cur.Owner != w.id || cur.Counter != h.counter || w.crashed.Load() {
			return errConflict
		}
		fn(cur)
		cur.Counter++
		cur.LastRenewed = now
		return nil
	})
	if errors.Is(err, errConflict) {
		h.lost = true
		return Lease{}, ErrLeaseLost
	}
	if err != nil {
		return Lease{}, err
	}
	h.counter, h.lease, h.lastOK = l.Counter, l, now
	a.noteLease(l)
	return l, nil
}

// release hands a lease back (owner cleared) and forgets it.
func (w *worker) release(h *heldLease) {
	h.mu.Lock()
	_, err := w.writeHeld(h, func(l *Lease) { l.Owner = "" })
	h.lost = true
	h.mu.Unlock()
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		w.app.fail(h.id, fmt.Errorf("release lease: %w", err))
	}
	if w.held[h.id] == h {
		delete(w.held, h.id)
	}
	w.app.wakeWorkers() // the others may take it at once
}

// startConsumers starts a reader for every held lease without one.
func (w *worker) startConsumers() {
	if w.stopping || w.crashed.Load() {
		return
	}
	ids := make([]string, 0, len(w.held))
	for id, h := range w.held {
		if !h.stopped && w.consumers[id] == nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ctx, cancel := context.WithCancel(context.Background())
		c := &shardConsumer{w: w, h: w.held[id], id: id, ctx: ctx, cancel: cancel, done: make(chan struct{})}
		w.consumers[id] = c
		go c.run()
	}
}

// reap handles the readers that have returned.
func (w *worker) reap() {
	for id, c := range w.consumers {
		select {
		case <-c.done:
		default:
			continue
		}
		delete(w.consumers, id)
		h := c.h
		switch c.outcome {
		case outcomeEnded:
			if w.held[id] == h {
				w.release(h)
			}
		case outcomeGone:
			h.stopped = true
		case outcomeLost:
			w.forget(h)
		}
	}
}

// shutdown stops the readers gracefully, renewing meanwhile, then hands
// every lease back.
func (w *worker) shutdown(t *time.Ticker) {
	w.setState(WorkerStopping)
	w.stopping = true
	for _, c := range w.consumers {
		c.stop(ShutdownRequested)
	}
	cfg := &w.app.cfg
	for len(w.consumers) > 0 {
		select {
		case <-w.crashCh:
			w.die()
			return
		case <-w.reapCh:
		case <-t.C:
		}
		w.reap()
		if now := cfg.Clock.Now(); now.Sub(w.lastRenew) >= cfg.RenewInterval {
			w.renew(now)
			w.lastRenew = now
		}
	}
	for _, h := range w.held {
		w.release(h)
	}
	w.setState(WorkerStopped)
}

// die ends the worker as a crash would: readers cancelled without Shutdown,
// leases left as they are.
func (w *worker) die() {
	w.setState(WorkerCrashed)
	for _, c := range w.consumers {
		c.crash()
	}
	for _, c := range w.consumers {
		<-c.done
	}
}
