package engine

import (
	"context"
	"sync"
	"time"
)

// Clock tells the engine the time. Arrival timestamps, retention, iterator
// expiry, status delays and throughput limits all read it, so tests and
// demos drive time instead of sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
	ch chan struct{} // closed at the next move; nil until someone waits
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.moved()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.moved()
}

// moved wakes the waiters of Changed and unlocks c.mu.
func (c *ManualClock) moved() {
	ch := c.ch
	c.ch = nil
	c.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// Changed returns a channel closed the next time the clock is moved. The
// engine waits on it (instead of a timer) for anything due at a clock time,
// such as a subscription's expiry or its read budget refilling.
func (c *ManualClock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// steppedClock is a clock that stands still between explicit moves.
type steppedClock interface {
	Changed() <-chan struct{}
}

// waitUntil blocks until the clock reaches t, wake or done is closed, or ctx
// ends; it returns ctx's error in the last case. A ManualClock is waited on
// through Changed; other clocks through a real timer of at most a second, so
// that an OffsetClock skipping ahead is noticed.
func waitUntil(ctx context.Context, c Clock, t time.Time, wake, done <-chan struct{}) error {
	var tick <-chan time.Time
	if sc, ok := c.(steppedClock); ok {
		changed := sc.Changed()
		if !t.IsZero() && !c.Now().Before(t) {
			return nil
		}
		select {
		case <-changed:
		case <-wake:
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	if !t.IsZero() {
		d := t.Sub(c.Now())
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(min(d, time.Second))
		defer timer.Stop()
		tick = timer.C
	}
	select {
	case <-tick:
	case <-wake:
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// OffsetClock is a clock running at real speed plus an adjustable offset.
// The console uses it to time-lapse retention: moving the offset forward
// ages every record at once.
type OffsetClock struct {
	base Clock
	mu   sync.Mutex
	off  time.Duration
}

// NewOffsetClock returns an OffsetClock over base (SystemClock when nil).
func NewOffsetClock(base Clock) *OffsetClock {
	if base == nil {
		base = SystemClock{}
	}
	return &OffsetClock{base: base}
}

// Now returns the base time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	off := c.off
	c.mu.Unlock()
	return c.base.Now().Add(off)
}

// Skip moves the clock forward by d.
func (c *OffsetClock) Skip(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// Offset returns how far the clock is ahead of its base.
func (c *OffsetClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.off
}
