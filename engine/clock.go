package engine

import (
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
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
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
