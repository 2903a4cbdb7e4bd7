package producers

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Set owns a group of producers and the goroutines that run them. Its
// methods are safe for concurrent use.
type Set struct {
	mu      sync.Mutex
	list    []*Producer
	byName  map[string]*Producer
	ctx     context.Context // of the current run; nil when stopped
	cancel  context.CancelFunc
	running *sync.WaitGroup // the current run's goroutines
}

// ErrSetRunning is returned by Start when the set is already running.
var ErrSetRunning = errors.New("producers: set is already running")

// NewSet returns a set of the given producers; it panics if two share a
// name.
func NewSet(ps ...*Producer) *Set {
	s := &Set{byName: map[string]*Producer{}}
	for _, p := range ps {
		if err := s.Add(p); err != nil {
			panic(err)
		}
	}
	return s
}

// Add adds a producer, starting it at once if the set is running. Names
// must be unique within the set.
func (s *Set) Add(p *Producer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byName[p.Name()]; dup {
		return fmt.Errorf("producers: duplicate producer name %q", p.Name())
	}
	s.list = append(s.list, p)
	s.byName[p.Name()] = p
	if s.ctx != nil {
		s.launch(p)
	}
	return nil
}

// launch runs p in a goroutine of the current run. Call with s.mu held.
func (s *Set) launch(p *Producer) {
	wg, ctx := s.running, s.ctx
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = p.Run(ctx) // ErrRunning: someone else runs it; nothing to do
	}()
}

// Start runs every producer in its own goroutine until ctx is done or Stop
// is called.
func (s *Set) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		return ErrSetRunning
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.running = new(sync.WaitGroup)
	for _, p := range s.list {
		s.launch(p)
	}
	return nil
}

// Stop stops the producers and returns once every goroutine the set
// started has exited. It may be called more than once; afterwards the set
// can be started again.
func (s *Set) Stop() {
	s.mu.Lock()
	cancel, wg := s.cancel, s.running
	s.ctx, s.cancel, s.running = nil, nil, nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	wg.Wait()
}

// Running reports whether the set has been started and not stopped.
func (s *Set) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx != nil
}

// Get returns the producer with the given name.
func (s *Set) Get(name string) (*Producer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byName[name]
	return p, ok
}

// All returns the producers in the order they were added.
func (s *Set) All() []*Producer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Producer(nil), s.list...)
}

// Stats returns a snapshot of every producer, in order.
func (s *Set) Stats() []Stats {
	ps := s.All()
	out := make([]Stats, len(ps))
	for i, p := range ps {
		out[i] = p.Stats()
	}
	return out
}

// The demo producers' names and target rates (records/s). Together they
// make about 1,200 records/s and 0.3 MiB/s: a 4-shard stream (4,000
// records/s, 4 MiB/s) is busy but under its limits until a hot key or a
// burst pushes one shard over.
const (
	DemoClickstream = "clickstream"
	DemoIoT         = "iot"
	DemoLogs        = "logs"

	DemoClickstreamRate = 400
	DemoIoTRate         = 300
	DemoLogsRate        = 500
)

// Defaults returns the three demo producers (clickstream, iot and logs),
// not yet started, sending to stream through sink on the wall clock with
// seeds derived from seed. Use DefaultsWith to set the clock or other
// options.
func Defaults(sink Sink, stream string, seed int64) *Set {
	return DefaultsWith(sink, stream, Config{Seed: seed})
}

// DefaultsWith is Defaults with base settings (such as Clock, MaxAttempts or
// Skew) applied to every producer; the rates and seeds are set per
// producer, seeds as base.Seed, base.Seed+1 and base.Seed+2.
func DefaultsWith(sink Sink, stream string, base Config) *Set {
	mk := func(name string, gen Generator, rate float64, off int64) *Producer {
		cfg := base
		cfg.Rate = rate
		cfg.Seed = base.Seed + off
		return New(name, gen, sink, stream, cfg)
	}
	return NewSet(
		mk(DemoClickstream, NewClickstream(ClickstreamConfig{}), DemoClickstreamRate, 0),
		mk(DemoIoT, NewIoT(IoTConfig{}), DemoIoTRate, 1),
		mk(DemoLogs, NewLogs(LogsConfig{}), DemoLogsRate, 2),
	)
}
