// Package embedded is the console's backend over the in-process engine,
// producers and consumers: it turns their state into the views package ui
// draws and runs the console's actions on them. It owns no state of its
// own beyond per-application rate windows and the names of consumers added
// from the keyboard.
package embedded

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
)

// LeaseDuration is how long a consumer worker's lease lasts without
// renewal in the console: short, so a stopped worker's leases visibly move
// within seconds (the KCL's default is 10 s).
const LeaseDuration = 6 * time.Second

// The console's polling readers call GetRecords on a shard at most every
// ReadInterval for at most ReadLimit records: about 600 records/s per
// shard and application. The demo writes about 300 per shard, so they keep
// up; a burst writes a shard's limit of 1,000 and they fall behind, then
// drain once it ends (README, experiment 3). Three applications polling
// this way use about 4.6 of a shard's 5 calls/s, so a fourth one throttles.
const (
	ReadLimit    = 400
	ReadInterval = 650 * time.Millisecond
)

// ConsumerConfig is how the console's consumer applications run: two
// workers each, leases and checkpoints kept in the store, reads paced as
// ReadLimit and ReadInterval say.
func ConsumerConfig(db *storage.DB, clock engine.Clock) consumers.Config {
	return consumers.Config{
		Clock: clock, Workers: 2, Leases: consumers.NewMetaLeases(db),
		LeaseDuration: LeaseDuration, RenewInterval: 2 * time.Second, TakeInterval: 3 * time.Second,
		Limit: ReadLimit, MinReadInterval: ReadInterval, PollInterval: time.Second,
	}
}

// Backend adapts the engine, the producers and the consumers to what the
// console needs. Make it with New.
type Backend struct {
	e      *engine.Engine
	db     *storage.DB
	clock  *engine.OffsetClock
	tap    *engine.Tap
	prods  *producers.Set
	cons   *consumers.Group
	around *Around
	ctx    context.Context // ends when the console closes

	mu       sync.Mutex // guards what follows
	throttle map[string]*throttleWindow
	added    int                              // consumers added from the keyboard, for their names
	mine     map[string]bool                  // the names of those consumers
	snap     engine.Snapshot                  // the latest Snapshot, which Consumers measures lag against
	points   map[string]map[string]*readPoint // by application, then shard
}

var (
	_ ui.Backend        = (*Backend)(nil)
	_ ui.AroundReporter = (*Backend)(nil)
)

// Around reports what the console's --config file runs.
func (b *Backend) Around() []ui.AroundView { return b.around.views() }

// Config is what a Backend adapts. Engine, Clock and Tap are required;
// without Producers or Consumers the console shows none.
type Config struct {
	Engine *engine.Engine
	// DB holds the leases and checkpoints of consumers added from the
	// keyboard.
	DB *storage.DB
	// Clock is the engine's clock; TimeLapse moves it.
	Clock     *engine.OffsetClock
	Tap       *engine.Tap
	Producers *producers.Set
	Consumers *consumers.Group
	// Around is what a --config file declared (triggers, deliveries, the
	// agent), shown with the consumers and producers; nil for none.
	Around *Around
}

// New returns a backend over cfg; ctx ends when the console closes.
func New(ctx context.Context, cfg Config) *Backend {
	if cfg.Producers == nil {
		cfg.Producers = &producers.Set{}
	}
	if cfg.Consumers == nil {
		cfg.Consumers = &consumers.Group{}
	}
	return &Backend{e: cfg.Engine, db: cfg.DB, clock: cfg.Clock, tap: cfg.Tap, prods: cfg.Producers, cons: cfg.Consumers, around: cfg.Around, ctx: ctx}
}

func (b *Backend) Snapshot() engine.Snapshot {
	snap := b.e.Snapshot()
	b.mu.Lock()
	b.snap = snap
	b.mu.Unlock()
	return snap
}

func (b *Backend) DrainFeed(dst []engine.TapRecord) []engine.TapRecord {
	return b.tap.Drain(dst)
}

func (b *Backend) FeedDropped() uint64 { return b.tap.Dropped() }

func (b *Backend) Producers() []ui.ProducerView {
	var out []ui.ProducerView
	for _, s := range b.prods.Stats() {
		out = append(out, ui.ProducerView{
			Name: s.Name, On: s.On, Rate: s.Rate, ActualRate: s.ActualRate, Skew: s.Skew,
			Sent: int64(s.Sent), Throttled: int64(s.Throttled), Retried: int64(s.Retried), GivenUp: int64(s.GivenUp), Failed: int64(s.Failed),
			Errors: int64(s.Errors), Bursting: s.Bursting, Aggregating: s.Aggregating, LastError: s.LastError,
		})
	}
	return append(out, b.around.producers()...)
}

// CaughtUp is how close to its shard's newest record a reader counts as
// caught up in ConsumerView.ShardsDone: a polling reader that keeps up is
// up to one poll interval behind.
const CaughtUp = time.Second

// readPoint is where an application stands in one shard, kept between
// calls of Consumers so its time lag can grow while nobody reads.
type readPoint struct {
	checkpoint string
	// arrival is the estimated arrival time of the last record read: the
	// shard's newest arrival minus the lag the reader reported when the
	// checkpoint moved there.
	arrival time.Time
	owner   string
}

// Consumers describes every application. Lag is measured here, from the
// engine's newest record in each shard against the application's
// checkpoint, not taken from the reader's last response: a shard nobody
// reads falls further behind with every record written to it.
func (b *Backend) Consumers() []ui.ConsumerView {
	now := time.Now()
	b.mu.Lock()
	snap := b.snap
	b.mu.Unlock()
	if snap.At.IsZero() {
		snap = b.Snapshot()
	}
	var out []ui.ConsumerView
	aroundApps, aroundLines := b.around.apps()
	for _, app := range append(b.cons.All(), aroundApps...) {
		s := app.Stats()
		v := ui.ConsumerView{
			Name: s.App, Stream: s.Stream, Kind: ui.KindPolling, Shards: len(s.Shards),
			Records: s.Records, Throttled: s.Throttled, ReadThrottled: b.throttleRate(s.App, s.Throttled, now),
			PerShardLag: map[string]time.Duration{},
		}
		if s.FanOut {
			v.Kind = ui.KindFanOut
		}
		stopped := map[string]bool{}
		for _, w := range s.Workers {
			down := w.State == consumers.WorkerStopped || w.State == consumers.WorkerCrashed
			stopped[w.ID] = down
			v.Workers = append(v.Workers, ui.WorkerView{ID: w.ID, Leases: w.Leases, Stopped: down})
		}
		ss := snap.Stream(s.Stream)
		b.mu.Lock()
		v.Added = b.mine[s.App]
		points := b.points[s.App]
		first := points == nil
		if first {
			points = map[string]*readPoint{}
			if b.points == nil {
				b.points = map[string]map[string]*readPoint{}
			}
			b.points[s.App] = points
		}
		for _, sh := range s.Shards {
			var shs *engine.ShardSnapshot
			if ss != nil {
				for i := range ss.Shards {
					if ss.Shards[i].ShardID == sh.ShardID {
						shs = &ss.Shards[i]
					}
				}
			}
			pt := points[sh.ShardID]
			if pt == nil {
				pt = &readPoint{checkpoint: sh.LastCheckpoint, owner: sh.Owner}
				points[sh.ShardID] = pt
				pt.arrival = startArrival(sh, shs)
			} else {
				v.Events = append(v.Events, b.noteMoves(s.App, sh, shs, pt, stopped)...)
			}
			behind, lag := measure(sh, shs, pt)
			v.Behind += behind
			v.Lag = max(v.Lag, lag)
			if sh.LastCheckpoint == consumers.ShardEnd || lag < CaughtUp {
				v.ShardsDone++
			}
			if sh.LastCheckpoint != consumers.ShardEnd {
				v.PerShardLag[sh.ShardID] = lag
			}
			v.PerShard = append(v.PerShard, ui.ShardLagView{ShardID: sh.ShardID, Lag: lag, Behind: behind, Checkpoint: sh.LastCheckpoint, Owner: sh.Owner})
		}
		b.mu.Unlock()
		v.Summary = consumerLines(app.Processor())
		if l, ok := aroundLines[app.Name()]; ok {
			v.Summary = l
		}
		out = append(out, v)
	}
	return out
}

// startArrival estimates the arrival of the last record read the first
// time a shard is seen: the oldest record held when nothing was read yet.
func startArrival(sh consumers.ShardStats, shs *engine.ShardSnapshot) time.Time {
	if shs == nil {
		return time.Time{}
	}
	switch sh.LastCheckpoint {
	case consumers.CheckpointTrimHorizon, "":
		return shs.Oldest
	}
	return shs.Newest.Add(-time.Duration(sh.MillisBehindLatest) * time.Millisecond)
}

// measure returns how many records of the shard the application has yet
// to read and how long ago the newest of them arrived after the last one
// it read. A moved checkpoint resets the read point from the reader's own
// report; otherwise the read point stays, so the lag grows as records
// arrive that nobody reads.
func measure(sh consumers.ShardStats, shs *engine.ShardSnapshot, pt *readPoint) (behind int64, lag time.Duration) {
	ck := sh.LastCheckpoint
	if ck != pt.checkpoint {
		pt.checkpoint = ck
		if shs != nil {
			pt.arrival = shs.Newest.Add(-time.Duration(sh.MillisBehindLatest) * time.Millisecond)
		}
	}
	if shs == nil || shs.NewestSequenceNumber == "" || ck == consumers.ShardEnd || ck == consumers.CheckpointLatest {
		return 0, 0
	}
	switch ck {
	case consumers.CheckpointTrimHorizon, "":
		behind = shs.Records
		pt.arrival = shs.Oldest
	default:
		n, ok := engine.SequenceGap(ck, shs.NewestSequenceNumber)
		if !ok {
			return 0, time.Duration(sh.MillisBehindLatest) * time.Millisecond
		}
		behind = n
	}
	if behind == 0 || pt.arrival.IsZero() {
		return behind, 0
	}
	return behind, max(0, shs.Newest.Sub(pt.arrival))
}

// noteMoves says what changed in a shard of an application since the last
// call: a lease taken over from a stopped worker (failover; the moves
// that balance live workers are routine and not told), a parent read to
// its end whose children start. Call with b.mu held.
func (b *Backend) noteMoves(app string, sh consumers.ShardStats, shs *engine.ShardSnapshot, pt *readPoint, stopped map[string]bool) []string {
	var out []string
	if sh.Owner != "" && pt.owner != "" && sh.Owner != pt.owner && stopped[pt.owner] {
		at := "its checkpoint"
		if ck := sh.LastCheckpoint; ck != "" && ck[0] >= '0' && ck[0] <= '9' {
			at = "checkpoint …" + ck[max(0, len(ck)-6):]
		} else if ck != "" {
			at = ck
		}
		out = append(out, fmt.Sprintf("%s: %s took over the lease of %s from %s (stopped) and reads on from %s", app, sh.Owner, sh.ShardID, pt.owner, at))
	}
	if sh.Owner != "" || pt.owner == "" {
		pt.owner = sh.Owner
	}
	if sh.LastCheckpoint == consumers.ShardEnd && pt.checkpoint != consumers.ShardEnd {
		text := fmt.Sprintf("%s: finished %s (SHARD_END)", app, sh.ShardID)
		if shs != nil && len(shs.Children) > 0 {
			text += " → its children " + strings.Join(shs.Children, ", ") + " start"
		}
		out = append(out, text)
	}
	return out
}

// throttleRate turns an app's running count of throttled reads into reads
// refused per second, measured over windows of at least a second.
func (b *Backend) throttleRate(app string, total int64, now time.Time) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.throttle == nil {
		b.throttle = map[string]*throttleWindow{}
	}
	w := b.throttle[app]
	if w == nil {
		w = &throttleWindow{total: total, at: now}
		b.throttle[app] = w
	}
	if d := now.Sub(w.at); d >= time.Second {
		w.rate = int64(float64(total-w.total) / d.Seconds())
		w.total, w.at = total, now
	}
	return w.rate
}

type throttleWindow struct {
	total, rate int64
	at          time.Time
}

// consumerLines are the live results of a built-in processor, one to three lines.
func consumerLines(p consumers.Processor) []string {
	switch p := p.(type) {
	case *consumers.PageStats:
		r := p.Result()
		return []string{r.Summary(), fmt.Sprintf("active sessions %d · %.0f events/s", r.ActiveSessions, r.EventsPerSecond)}
	case *consumers.IoTAlerts:
		r := p.Result()
		lines := []string{count(r.AlertCount, "alert") + " · " + count(int64(r.Devices), "device") + " in the last minute"}
		for i, a := range r.Alerts {
			if i == 2 {
				break
			}
			lines = append(lines, "⚠ "+a.String())
		}
		return lines
	case *consumers.LogStats:
		r := p.Result()
		svcs := append([]consumers.ServiceStats(nil), r.Services...)
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].ErrorRate > svcs[j].ErrorRate })
		var parts []string
		for i, s := range svcs {
			if i == 2 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s err %.1f%% p99 %.0fms", s.Service, 100*s.ErrorRate, s.P99))
		}
		return []string{strings.Join(parts, "  "), count(int64(r.Requests), "request") + " in the last minute"}
	}
	if s, ok := p.(consumers.Summarizer); ok {
		return []string{s.Summary()}
	}
	return nil
}

func (b *Backend) stream(name string) engine.StreamRef {
	return engine.StreamRef{StreamName: name}
}

func (b *Backend) SplitShard(stream, shardID string) (string, error) {
	ctx := context.Background()
	ls, err := b.e.ListShards(ctx, engine.ListShardsInput{StreamRef: b.stream(stream), Filter: &engine.ShardFilter{Type: engine.FilterAtLatest}})
	if err != nil {
		return "", err
	}
	for _, sh := range ls.Shards {
		if sh.ShardID == shardID {
			at := engine.MidpointKey(sh.HashKeyRange)
			if err := b.e.SplitShard(ctx, engine.SplitShardInput{StreamRef: b.stream(stream), ShardToSplit: shardID, NewStartingHashKey: at}); err != nil {
				return "", err
			}
			return fmt.Sprintf("split %s at the middle of its hash range", shardID), nil
		}
	}
	return "", fmt.Errorf("%s is not an open shard of %s", shardID, stream)
}

func (b *Backend) MergeShards(stream, shardID, adjacentShardID string) (string, error) {
	err := b.e.MergeShards(context.Background(), engine.MergeShardsInput{StreamRef: b.stream(stream), ShardToMerge: shardID, AdjacentShardToMerge: adjacentShardID})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("merged %s with %s", shardID, adjacentShardID), nil
}

func (b *Backend) SetRetention(stream string, hours int) (string, error) {
	ctx := context.Background()
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	in := engine.RetentionInput{StreamRef: b.stream(stream), RetentionPeriodHours: hours}
	switch {
	case hours > sum.RetentionPeriodHours:
		err = b.e.IncreaseStreamRetentionPeriod(ctx, in)
	case hours < sum.RetentionPeriodHours:
		err = b.e.DecreaseStreamRetentionPeriod(ctx, in)
	default:
		return fmt.Sprintf("retention is already %dh", hours), nil
	}
	if err != nil {
		return "", err
	}
	if hours < sum.RetentionPeriodHours {
		// Trim now rather than at the next pass, so the shards' oldest
		// figures never read more than the new retention.
		if err := b.e.ApplyRetention(b.clock.Now()); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("retention %dh → %dh", sum.RetentionPeriodHours, hours), nil
}

func (b *Backend) TimeLapse(d time.Duration) (string, error) {
	b.clock.Skip(d)
	if err := b.e.ApplyRetention(b.clock.Now()); err != nil {
		return "", err
	}
	return fmt.Sprintf("time-lapse: engine clock +%s (now %s ahead): records age and retention trims; rates and cost keep the wall clock", hours(d), hours(b.clock.Offset())), nil
}

func (b *Backend) producer(name string) (*producers.Producer, error) {
	p, ok := b.prods.Get(name)
	if !ok && b.around.isAgent(name) {
		return nil, fmt.Errorf("%s is a Kinesis Agent flow: its pace is the flow's maxRecordsPerSecond in agent.json", name)
	}
	if !ok {
		return nil, fmt.Errorf("no producer %q", name)
	}
	return p, nil
}

func (b *Backend) ProducerScale(name string, factor float64) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	cur := p.Stats().BaseRate
	if cur*factor < MinRate {
		// Halving forever would reach 0 records/s, which is off by another
		// name: stop at the floor and say so.
		if cur <= MinRate {
			return fmt.Sprintf("%s rate stays at the floor of 1 record/s (space or t switches it off)", name), nil
		}
		r := p.Scale(MinRate / cur)
		return fmt.Sprintf("%s rate → %s record/s, the floor (space or t switches it off)", name, formatRate(r)), nil
	}
	r := p.Scale(factor)
	if r >= producers.MaxRate {
		return fmt.Sprintf("%s rate → %s records/s, the ceiling", name, formatRate(r)), nil
	}
	return fmt.Sprintf("%s rate → %s records/s", name, formatRate(r)), nil
}

// MinRate is the lowest rate ProducerScale lowers a producer to, in
// records per second.
const MinRate = 1.0

func (b *Backend) ProducerBurst(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	p.Burst(10, 5*time.Second)
	return fmt.Sprintf("%s bursting ×10 for 5 s", name), nil
}

func (b *Backend) ProducerToggle(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.Toggle() {
		return name + " on", nil
	}
	return name + " off", nil
}

func (b *Backend) ProducerCycleSkew(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s key skew → %s", name, p.CycleSkew()), nil
}

func (b *Backend) ProducerToggleAggregate(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.ToggleAggregate() {
		return name + " KPL aggregation on (consumers de-aggregate)", nil
	}
	return name + " KPL aggregation off", nil
}

func (b *Backend) ToggleCapacityMode(stream string) (string, error) {
	ctx := context.Background()
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	to := engine.ModeOnDemand
	if sum.StreamMode == engine.ModeOnDemand {
		to = engine.ModeProvisioned
	}
	if err := b.e.UpdateStreamMode(ctx, engine.UpdateStreamModeInput{StreamARN: sum.StreamARN, Mode: to}); err != nil {
		return "", err
	}
	if to == engine.ModeOnDemand {
		return fmt.Sprintf("%s is ON_DEMAND now: the scaler splits shards that stay hot (demo pace: 20 s)", stream), nil
	}
	return fmt.Sprintf("%s is PROVISIONED now: it keeps its %d open shards", stream, sum.OpenShardCount), nil
}

// AddConsumer starts another consumer application on the stream, polling
// (sharing each shard's 5 reads/s and 2 MiB/s) or enhanced fan-out (a
// registered consumer with its own 2 MiB/s per shard). Each runs the log
// statistics processor, so its work is comparable.
func (b *Backend) AddConsumer(stream string, fanOut bool) (string, error) {
	b.mu.Lock()
	b.added++
	kind := "poll"
	if fanOut {
		kind = "fanout"
	}
	name := fmt.Sprintf("%s-%d", kind, b.added)
	if b.mine == nil {
		b.mine = map[string]bool{}
	}
	b.mine[name] = true
	b.mu.Unlock()
	cfg := ConsumerConfig(b.db, b.clock)
	cfg.FanOut = fanOut
	app := consumers.NewApp(name, stream, consumers.NewLogStats(b.clock), b.e, nil, cfg)
	if err := b.cons.Add(app); err != nil {
		return "", err
	}
	if fanOut {
		return fmt.Sprintf("started %s: an enhanced fan-out consumer with its own 2 MiB/s per shard", name), nil
	}
	return fmt.Sprintf("started %s: a polling consumer sharing each shard's 5 reads/s", name), nil
}

// RemoveConsumer stops a consumer application and forgets it; a fan-out
// one's registration is removed too. A registered consumer that no
// application here owns (one an outside client made) is deregistered.
func (b *Backend) RemoveConsumer(stream, name string) (string, error) {
	if b.around.has(name) {
		return "", fmt.Errorf("%s runs from --config: it stops with the console", name)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if b.cons.App(name) != nil {
		if err := b.cons.Remove(ctx, name); err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped %s: its leases were handed back with their checkpoints", name), nil
	}
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	if err := b.e.DeregisterStreamConsumer(ctx, engine.ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: name}); err != nil {
		return "", err
	}
	return fmt.Sprintf("deregistered the stream consumer %s", name), nil
}

// StopWorker stops a worker abruptly, as a crash would: it stops renewing
// without handing its leases back, so they move once they expire.
func (b *Backend) StopWorker(app, worker string) (string, error) {
	a := b.cons.App(app)
	if a == nil {
		a = b.around.app(app)
	}
	if a == nil {
		return "", fmt.Errorf("no consumer application %q", app)
	}
	if err := a.CrashWorker(worker); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s stopped renewing its leases: they expire in %s and move to another worker", app, worker, LeaseDuration), nil
}

// hours writes a whole number of hours as "6h", anything else to the minute.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// count says "1 alert", "2 alerts", "3 retries".
func count(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if stem, ok := strings.CutSuffix(word, "y"); ok {
		return fmt.Sprintf("%d %sies", n, stem)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func formatRate(r float64) string {
	if r >= 1000 {
		return fmt.Sprintf("%.1fk", r/1000)
	}
	return fmt.Sprintf("%.0f", math.Round(r))
}
