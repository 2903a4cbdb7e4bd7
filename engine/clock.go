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

// MonotonicClock is a Clock that also reads a monotonic clock: time that
// passes steadily and never jumps when someone (or NTP) sets the wall
// clock. Retention uses it to tell a wall-clock jump from time passing;
// with a clock that lacks it, retention trusts the wall clock.
type MonotonicClock interface {
	Clock
	// Monotonic returns the time passed since a fixed, arbitrary origin;
	// ok is false when there is no monotonic clock behind this one.
	Monotonic() (d time.Duration, ok bool)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// processStart is the origin of SystemClock's monotonic readings.
var processStart = time.Now()

// Monotonic returns the time since the process started, read from the
// operating system's monotonic clock.
func (SystemClock) Monotonic() (time.Duration, bool) { return time.Since(processStart), true }

// ManualClock is a clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu   sync.Mutex
	t    time.Time
	mono time.Duration // time passed; Jump leaves it alone
	ch   chan struct{} // closed at the next move; nil until someone waits
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Monotonic returns the time passed since the clock was made: every
// Advance, and every Set forward, but no Jump.
func (c *ManualClock) Monotonic() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono, true
}

// Advance moves the clock forward by d: d passes.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mono += max(d, 0)
	c.moved()
}

// Set moves the clock to t; moving it forward counts as time passing.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.mono += max(t.Sub(c.t), 0)
	c.t = t
	c.moved()
}

// Jump moves the wall time by d, forward or back, as setting a system
// clock does: no time passes.
func (c *ManualClock) Jump(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
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

// Monotonic returns the base's monotonic reading plus the offset: a Skip
// is time passing, deliberately, not a jump.
func (c *OffsetClock) Monotonic() (time.Duration, bool) {
	mc, ok := c.base.(MonotonicClock)
	if !ok {
		return 0, false
	}
	d, ok := mc.Monotonic()
	return d + c.Offset(), ok
}

// Offset returns how far the clock is ahead of its base.
func (c *OffsetClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.off
}
