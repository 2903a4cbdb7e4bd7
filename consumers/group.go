package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Errors of the group's controls.
var (
	// ErrDuplicateApp is returned by Add for a name the group has already.
	ErrDuplicateApp = errors.New("consumers: an application of that name is in the group")
	// ErrNoApp is returned by Remove for a name the group does not have.
	ErrNoApp = errors.New("consumers: no application of that name in the group")
)

// Group runs a set of applications together. Applications can be added
// and removed while it runs; names are unique within a group. Its methods
// are safe for concurrent use.
type Group struct {
	life sync.Mutex // serializes Start and Stop

	mu   sync.Mutex // guards what follows
	apps []*groupApp
	run  *groupRun // the current run, nil when stopped
}

// groupApp is an application of the group and its current Run.
type groupApp struct {
	app      *App
	removing bool               // Remove is stopping it
	cancel   context.CancelFunc // ends its latest Run; nil before the first
	done     chan struct{}      // closed when that Run returned
}

// groupRun is one Start of the group: every Run it started belongs to wg.
type groupRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewGroup returns a group of apps; names should be distinct (Add refuses
// a duplicate).
func NewGroup(apps ...*App) *Group {
	g := &Group{}
	for _, a := range apps {
		g.apps = append(g.apps, &groupApp{app: a})
	}
	return g
}

// Start runs every application in its own goroutine until ctx ends or Stop
// is called. It does nothing while the group is running.
func (g *Group) Start(ctx context.Context) {
	g.life.Lock()
	defer g.life.Unlock()
	g.mu.Lock()
	if r := g.run; r != nil {
		if r.ctx.Err() == nil {
			g.mu.Unlock()
			return
		}
		// Ended by its context: let it finish, then start afresh. No Run
		// joins r meanwhile, its context being done.
		g.mu.Unlock()
		r.wg.Wait()
		r.cancel()
		g.mu.Lock()
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &groupRun{ctx: ctx, cancel: cancel}
	g.run = r
	for _, ga := range g.apps {
		if !ga.removing {
			g.startLocked(ga, r)
		}
	}
	g.mu.Unlock()
}

// startLocked runs ga's application as part of r. Called with g.mu held,
// r being g.run with its context not done.
func (g *Group) startLocked(ga *groupApp, r *groupRun) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	ga.cancel, ga.done = cancel, done
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		defer cancel()
		_ = ga.app.Run(ctx) // ErrRunning: the app runs elsewhere; ErrNoFanOut: counted in its Stats
	}()
}

// Stop ends the applications and waits until every one has returned. It
// does nothing when the group is not running; Start may be called again.
func (g *Group) Stop() {
	g.life.Lock()
	defer g.life.Unlock()
	g.mu.Lock()
	r := g.run
	g.run = nil
	g.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}

// Add adds an application, and starts it when the group is running. It
// returns ErrDuplicateApp when the group has an application of that name
// (one being removed included).
func (g *Group) Add(app *App) error {
	if app == nil {
		return errors.New("consumers: Add of a nil application")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ga := range g.apps {
		if ga.app.name == app.name {
			return fmt.Errorf("%w: %s", ErrDuplicateApp, app.name)
		}
	}
	ga := &groupApp{app: app}
	g.apps = append(g.apps, ga)
	if r := g.run; r != nil && r.ctx.Err() == nil {
		g.startLocked(ga, r)
	}
	return nil
}

// Remove stops the named application gracefully (its processors shut
// down, checkpoints written, leases handed back), waits until its Run has
// returned, deregisters its stream consumer if it reads with fan-out, and
// takes it out of the group. The application stays listed while it stops.
// When ctx ends first Remove returns ctx's error and the rest happens in
// the background. It returns ErrNoApp for a name the group does not have.
func (g *Group) Remove(ctx context.Context, name string) error {
	g.mu.Lock()
	var ga *groupApp
	for _, x := range g.apps {
		if x.app.name == name && !x.removing {
			ga = x
		}
	}
	if ga == nil {
		g.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNoApp, name)
	}
	ga.removing = true
	cancel, done := ga.cancel, ga.done
	g.mu.Unlock()

	finish := func(ctx context.Context) error {
		err := ga.app.Deregister(ctx)
		g.mu.Lock()
		g.apps = slices.DeleteFunc(g.apps, func(x *groupApp) bool { return x == ga })
		g.mu.Unlock()
		return err
	}
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			go func() {
				<-done
				_ = finish(context.Background())
			}()
			return ctx.Err()
		}
	}
	return finish(ctx)
}

// list returns the applications in order.
func (g *Group) list() []*App {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*App, len(g.apps))
	for i, ga := range g.apps {
		out[i] = ga.app
	}
	return out
}

// All returns the applications in the order they were given or added.
func (g *Group) All() []*App { return g.list() }

// App returns the application with the given name, or nil.
func (g *Group) App(name string) *App {
	for _, a := range g.list() {
		if a.name == name {
			return a
		}
	}
	return nil
}

// Stats returns every application's Stats, in order.
func (g *Group) Stats() []Stats {
	apps := g.list()
	out := make([]Stats, len(apps))
	for i, a := range apps {
		out[i] = a.Stats()
	}
	return out
}
