package consumers

import (
	"context"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// The names of the demo applications Defaults returns.
const (
	PageStatsApp = "page-stats"
	IoTAlertsApp = "iot-alerts"
	LogStatsApp  = "log-stats"
)

// Defaults returns the three demo applications reading stream: page-stats
// (a PageStats of the top 5 pages), iot-alerts (an IoTAlerts with the
// default thresholds) and log-stats (a LogStats), their windows read from
// clock. The three share the stream's read budget of 5 calls/s per shard,
// so each polls at most about every 650ms. Each runs one worker over a
// lease table in memory; cps seeds and keeps a copy of the checkpoints.
// DefaultsWith sets the lease store, workers and lease timings.
func Defaults(src Source, cps CheckpointStore, stream string, clock engine.Clock) *Group {
	return DefaultsWith(src, cps, stream, Config{Clock: clock})
}

// DefaultsWith is Defaults with base settings (such as Clock, Leases,
// Workers, LeaseDuration, RenewInterval, TakeInterval) applied to every
// application; PollInterval and MinReadInterval default to 1s and 650ms.
// Give the applications one LeaseStore (such as NewMetaLeases(db)): each
// keeps its leases in its own bucket, LeaseBucket(name).
func DefaultsWith(src Source, cps CheckpointStore, stream string, base Config) *Group {
	if base.PollInterval == 0 {
		base.PollInterval = time.Second
	}
	if base.MinReadInterval == 0 {
		base.MinReadInterval = 650 * time.Millisecond
	}
	clock := base.Clock
	return NewGroup(
		NewApp(PageStatsApp, stream, NewPageStats(clock, 5), src, cps, base),
		NewApp(IoTAlertsApp, stream, NewIoTAlerts(clock, DefaultIoTThresholds(), 20), src, cps, base),
		NewApp(LogStatsApp, stream, NewLogStats(clock), src, cps, base),
	)
}

// Group runs a set of applications together.
type Group struct {
	apps []*App

	mu     sync.Mutex // guards what follows
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewGroup returns a group of apps; names should be distinct.
func NewGroup(apps ...*App) *Group {
	return &Group{apps: append([]*App(nil), apps...)}
}

// Start runs every application in its own goroutine until ctx ends or Stop
// is called. It does nothing while the group is running.
func (g *Group) Start(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		if g.ctx.Err() == nil {
			return
		}
		<-g.done // ended by its context: let it finish, then start afresh
		g.cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	g.ctx, g.cancel, g.done = ctx, cancel, done
	var wg sync.WaitGroup
	for _, a := range g.apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.Run(ctx) // ErrRunning only: the app runs elsewhere
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

// Stop ends the applications and waits until every one has returned. It
// does nothing when the group is not running; Start may be called again.
func (g *Group) Stop() {
	g.mu.Lock()
	cancel, done := g.cancel, g.done
	g.ctx, g.cancel, g.done = nil, nil, nil
	g.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// All returns the applications in the order they were given.
func (g *Group) All() []*App { return append([]*App(nil), g.apps...) }

// App returns the application with the given name, or nil.
func (g *Group) App(name string) *App {
	for _, a := range g.apps {
		if a.name == name {
			return a
		}
	}
	return nil
}

// Stats returns every application's Stats, in order.
func (g *Group) Stats() []Stats {
	out := make([]Stats, len(g.apps))
	for i, a := range g.apps {
		out[i] = a.Stats()
	}
	return out
}
