package ui

// ring is a bounded FIFO: pushing onto a full ring drops the oldest item.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest item
	n     int
}

func newRing[T any](capacity int) *ring[T] {
	return &ring[T]{buf: make([]T, max(1, capacity))}
}

// Len returns the number of items held.
func (r *ring[T]) Len() int { return r.n }

// Cap returns the capacity.
func (r *ring[T]) Cap() int { return len(r.buf) }

// Push appends v, dropping the oldest item when full.
func (r *ring[T]) Push(v T) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = v
		r.n++
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

// At returns the i-th item, 0 being the oldest.
func (r *ring[T]) At(i int) *T {
	return &r.buf[(r.start+i)%len(r.buf)]
}

// Reset empties the ring, keeping its capacity.
func (r *ring[T]) Reset() {
	clear(r.buf)
	r.start, r.n = 0, 0
}

// Slice copies the items out, oldest first.
func (r *ring[T]) Slice() []T {
	out := make([]T, r.n)
	for i := range out {
		out[i] = *r.At(i)
	}
	return out
}
