package consumers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Processor handles the records an App reads. Process is called with the
// records of one shard in sequence order; calls for different shards may
// run at the same time, calls for one shard never do. When Process returns
// an error (or panics) the App counts it and offers the same batch again
// later: delivery is at-least-once.
type Processor interface {
	// Process handles a batch of one shard's records; the App checkpoints
	// the batch's last record once it returns nil.
	Process(shardID string, records []engine.Record) error
}

// Summarizer is implemented by processors that can describe their state in
// one short line for a narrow console.
type Summarizer interface {
	// Summary returns the line, such as "checkout err 4.2% p99 310ms".
	Summary() string
}

// Config tunes an App. The zero value gives the defaults.
type Config struct {
	// PollInterval is how long a shard reader waits after a response
	// without records. Default 500ms.
	PollInterval time.Duration
	// MinReadInterval is the shortest gap between two GetRecords calls on
	// one shard, which keeps a reader within the service's 5 calls/s per
	// shard. Default 200ms; negative means no gap.
	MinReadInterval time.Duration
	// Limit is the most records one GetRecords call asks for. Default 1000.
	Limit int
	// Clock stamps Stats. Default engine.SystemClock. Waiting always uses
	// real timers.
	Clock engine.Clock
	// StartPosition is where a shard without a checkpoint is read from:
	// engine.TrimHorizon (the default) or engine.Latest. With Latest, only
	// the shards found by the first listing of a Run start at their tip
	// (closed ones among them are skipped); shards that appear later, and
	// children of shards this App has read, start at their trim horizon so
	// nothing after a reshard is lost.
	StartPosition engine.IteratorType
	// RelistInterval is how often the shard list is read again to pick up
	// new shards. Default 5s. A reader reaching a shard's end also
	// triggers a listing.
	RelistInterval time.Duration
	// ThrottleBackoff is the first wait after a
	// ProvisionedThroughputExceededException; it doubles on each further
	// throttle of the same reader up to 8 times this value and resets after
	// a successful read. Default 1s.
	ThrottleBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.MinReadInterval == 0 {
		c.MinReadInterval = 200 * time.Millisecond
	}
	if c.Limit <= 0 {
		c.Limit = 1000
	}
	if c.Limit > 10000 {
		c.Limit = 10000
	}
	if c.Clock == nil {
		c.Clock = engine.SystemClock{}
	}
	if c.StartPosition != engine.Latest {
		c.StartPosition = engine.TrimHorizon
	}
	if c.RelistInterval <= 0 {
		c.RelistInterval = 5 * time.Second
	}
	if c.ThrottleBackoff <= 0 {
		c.ThrottleBackoff = time.Second
	}
	return c
}

// ShardState is where an App is with one shard.
type ShardState string

// The states of a shard in an App.
const (
	// StateWaiting: a parent of the shard has not been read to its end yet.
	StateWaiting ShardState = "waiting-for-parents"
	// StateReading: a reader follows the shard.
	StateReading ShardState = "reading"
	// StateEnded: the shard was read to its end (checkpoint SHARD_END), or
	// skipped because the App started at LATEST.
	StateEnded ShardState = "ended"
	// StateStopped: the source no longer knows the shard
	// (ResourceNotFoundException); its reader stopped.
	StateStopped ShardState = "stopped"
)

// String returns the state's name.
func (s ShardState) String() string { return string(s) }

// ShardStats is one shard in Stats.
type ShardStats struct {
	ShardID string
	State   ShardState
	// MillisBehindLatest is how far the last response was behind the
	// shard's tip.
	MillisBehindLatest int64
	// LastCheckpoint is the last checkpoint saved (or loaded): a sequence
	// number, ShardEnd, or "".
	LastCheckpoint string
	// Records is how many records of the shard were processed in this Run.
	Records int64
}

// Stats is an immutable picture of an App.
type Stats struct {
	App    string
	Stream string
	// At is when the picture was taken, by the App's clock.
	At time.Time
	// Running reports whether Run is in progress.
	Running bool
	// Shards lists the known shards by ID.
	Shards []ShardStats
	// Records is the total of records processed since the App was made.
	Records int64
	// Throttled counts ProvisionedThroughputExceededException responses.
	Throttled int64
	// Expired counts ExpiredIteratorException responses (each recovered
	// by a fresh iterator).
	Expired int64
	// Errors counts other failures: listing, reading, processing,
	// checkpointing.
	Errors int64
	// LastError describes the latest of them, "" when none.
	LastError string
	// MaxLagMillis is the largest MillisBehindLatest of the shards being read.
	MaxLagMillis int64
}

// Count returns how many shards are in the given state.
func (s Stats) Count(state ShardState) int {
	n := 0
	for _, sh := range s.Shards {
		if sh.State == state {
			n++
		}
	}
	return n
}

// App is a polling consumer application: it reads every shard of one
// stream, parents before children, hands the records to its Processor and
// checkpoints after each batch.
type App struct {
	name   string
	stream string
	proc   Processor
	src    Source
	cps    CheckpointStore
	cfg    Config

	running atomic.Bool

	mu        sync.Mutex // guards what follows
	shards    map[string]*shardEntry
	records   int64
	throttled int64
	expired   int64
	errs      int64
	lastErr   string
}

// shardEntry is the App's view of one shard. The coordinator creates and
// deletes entries; a shard's reader updates its own entry's progress.
type shardEntry struct {
	info       engine.Shard
	initial    bool // found by the first listing of the Run
	loaded     bool // checkpoint loaded
	checkpoint string
	state      ShardState
	skipped    bool // ended without reading (StartPosition LATEST)
	reader     bool // a reader goroutine runs
	lag        int64
	records    int64
}

// NewApp returns an application named name (the checkpoint namespace)
// reading stream (a name, or an ARN) from src with p, keeping checkpoints
// in cps.
func NewApp(name, stream string, p Processor, src Source, cps CheckpointStore, cfg Config) *App {
	return &App{
		name:   name,
		stream: stream,
		proc:   p,
		src:    src,
		cps:    cps,
		cfg:    cfg.withDefaults(),
		shards: make(map[string]*shardEntry),
	}
}

// Name returns the application's name.
func (a *App) Name() string { return a.name }

// Stream returns the stream the application reads.
func (a *App) Stream() string { return a.stream }

// Processor returns the application's processor.
func (a *App) Processor() Processor { return a.proc }

// Summary returns the processor's one-line summary, or "" when it has none.
func (a *App) Summary() string {
	if s, ok := a.proc.(Summarizer); ok {
		return s.Summary()
	}
	return ""
}

// ErrRunning is returned by Run when the App is already running.
var ErrRunning = errors.New("consumers: app is already running")

// Run reads the stream until ctx is done, then waits for all its readers
// to return and returns nil. Failures of the source or the store are
// counted in Stats and retried; they do not end Run.
func (a *App) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer a.running.Store(false)

	a.mu.Lock()
	a.shards = make(map[string]*shardEntry)
	a.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wake := make(chan struct{}, 1)
	first := true
	for {
		ok := a.refresh(ctx, first, &wg, wake)
		if ok {
			first = false
		}
		delay := a.cfg.RelistInterval
		if !ok && delay > time.Second {
			delay = time.Second
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func (a *App) ref() engine.StreamRef {
	if strings.HasPrefix(a.stream, "arn:") {
		return engine.StreamRef{StreamARN: a.stream}
	}
	return engine.StreamRef{StreamName: a.stream}
}

// listShards pages through the whole shard list.
func (a *App) listShards(ctx context.Context) ([]engine.Shard, error) {
	in := engine.ListShardsInput{StreamRef: a.ref()}
	var all []engine.Shard
	for page := 0; ; page++ {
		out, err := a.src.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		all = append(all, out.Shards...)
		if out.NextToken == "" {
			return all, nil
		}
		if page >= 10000 {
			return nil, errors.New("ListShards: too many pages")
		}
		in = engine.ListShardsInput{NextToken: out.NextToken}
	}
}

type readerStart struct {
	id  string
	typ engine.IteratorType
	seq string
}

// refresh lists the shards, loads the checkpoints of new ones and starts a
// reader for each shard whose parents have ended. It reports whether the
// listing succeeded.
func (a *App) refresh(ctx context.Context, first bool, wg *sync.WaitGroup, wake chan<- struct{}) bool {
	shards, err := a.listShards(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.fail("", fmt.Errorf("list shards: %w", err))
		}
		return false
	}
	listed := make(map[string]engine.Shard, len(shards))
	for _, s := range shards {
		listed[s.ShardID] = s
	}

	var toLoad []string
	a.mu.Lock()
	for id, s := range listed {
		e := a.shards[id]
		if e == nil {
			e = &shardEntry{state: StateWaiting, initial: first}
			a.shards[id] = e
		}
		e.info = s
		if !e.loaded {
			toLoad = append(toLoad, id)
		}
	}
	for id, e := range a.shards {
		if _, ok := listed[id]; !ok && !e.reader {
			delete(a.shards, id) // expired: no longer listed
		}
	}
	a.mu.Unlock()

	sort.Strings(toLoad)
	for _, id := range toLoad {
		cp, err := a.cps.Load(ctx, a.name, id)
		if err != nil {
			if ctx.Err() != nil {
				return true
			}
			a.fail(id, fmt.Errorf("load checkpoint: %w", err))
			continue
		}
		a.mu.Lock()
		e := a.shards[id] // only this goroutine deletes entries
		if cp == ShardEnd && e.info.Open() {
			// An open shard has no end: the checkpoint is left from an
			// earlier stream of the same name.
			a.recordErr(id, errors.New("stale checkpoint SHARD_END on an open shard ignored"))
			cp = ""
		}
		e.loaded = true
		e.checkpoint = cp
		switch {
		case cp == ShardEnd:
			e.state = StateEnded
		case cp == "" && e.initial && a.cfg.StartPosition == engine.Latest && !e.info.Open():
			e.state = StateEnded
			e.skipped = true
		}
		a.mu.Unlock()
	}

	var starts []readerStart
	a.mu.Lock()
	ids := make([]string, 0, len(a.shards))
	for id := range a.shards {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := a.shards[id]
		if !e.loaded || e.reader || e.state != StateWaiting {
			continue
		}
		if !a.parentsEnded(e.info, listed) {
			continue
		}
		e.state = StateReading
		e.reader = true
		starts = append(starts, a.startOf(id, e))
	}
	a.mu.Unlock()

	for _, s := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer a.readerDone(s.id, wake)
			a.read(ctx, s)
		}()
	}
	return true
}

// parentsEnded reports whether every parent of s that is still listed has
// been read to its end (or cannot be read any more). Called with a.mu held.
func (a *App) parentsEnded(s engine.Shard, listed map[string]engine.Shard) bool {
	for _, p := range [2]string{s.ParentShardID, s.AdjacentParentShardID} {
		if p == "" {
			continue
		}
		if _, ok := listed[p]; !ok {
			continue
		}
		pe := a.shards[p]
		if pe == nil || !pe.loaded || (pe.state != StateEnded && pe.state != StateStopped) {
			return false
		}
	}
	return true
}

// startOf says where a reader of the shard starts. Called with a.mu held.
func (a *App) startOf(id string, e *shardEntry) readerStart {
	if e.checkpoint != "" {
		return readerStart{id: id, typ: engine.AfterSequenceNumber, seq: e.checkpoint}
	}
	if a.cfg.StartPosition != engine.Latest || !e.initial {
		return readerStart{id: id, typ: engine.TrimHorizon}
	}
	for _, p := range [2]string{e.info.ParentShardID, e.info.AdjacentParentShardID} {
		if pe := a.shards[p]; p != "" && pe != nil && !pe.skipped {
			// A parent was (or is being) read: continue where it ends.
			return readerStart{id: id, typ: engine.TrimHorizon}
		}
	}
	return readerStart{id: id, typ: engine.Latest}
}

func (a *App) readerDone(id string, wake chan<- struct{}) {
	a.mu.Lock()
	if e := a.shards[id]; e != nil {
		e.reader = false
	}
	a.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
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

// read follows one shard from s until its end, ctx's end, or the shard's
// disappearance.
func (a *App) read(ctx context.Context, s readerStart) {
	var (
		iter       string
		seq        = s.seq // last processed sequence number
		lastCall   time.Time
		throttle   time.Duration
		errWait    time.Duration
		expiredRun int
	)
	pace := func() bool {
		if gap := a.cfg.MinReadInterval; gap > 0 && !lastCall.IsZero() {
			return sleepCtx(ctx, gap-time.Since(lastCall))
		}
		return ctx.Err() == nil
	}
	throttled := func() bool {
		a.mu.Lock()
		a.throttled++
		a.mu.Unlock()
		throttle = grow(throttle, a.cfg.ThrottleBackoff)
		return sleepCtx(ctx, throttle)
	}
	failed := func(err error) bool {
		a.fail(s.id, err)
		errWait = grow(errWait, a.cfg.PollInterval)
		return sleepCtx(ctx, errWait)
	}
	for {
		if iter == "" {
			in := engine.GetShardIteratorInput{StreamRef: a.ref(), ShardID: s.id, ShardIteratorType: s.typ}
			if seq != "" {
				in.ShardIteratorType = engine.AfterSequenceNumber
				in.StartingSequenceNumber = seq
			}
			it, err := a.src.GetShardIterator(ctx, in)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				var more bool
				switch code := engine.CodeOf(err); {
				case code == engine.ResourceNotFoundException:
					a.stopShard(s.id, err)
					return
				case code == engine.ProvisionedThroughputExceededException:
					more = throttled()
				case code == engine.InvalidArgumentException && seq != "" && seq == s.seq:
					// The stored checkpoint is not a sequence number of
					// this shard (left from an earlier stream of the same
					// name): read from the start rather than lose records.
					a.fail(s.id, fmt.Errorf("checkpoint %s not usable, reading from TRIM_HORIZON: %w", seq, err))
					seq, s.typ = "", engine.TrimHorizon
					more = true
				default:
					more = failed(fmt.Errorf("get shard iterator: %w", err))
				}
				if !more {
					return
				}
				continue
			}
			iter = it
		}
		if !pace() {
			return
		}
		out, err := a.src.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: iter, Limit: a.cfg.Limit})
		lastCall = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			more := true
			switch engine.CodeOf(err) {
			case engine.ExpiredIteratorException:
				a.mu.Lock()
				a.expired++
				a.mu.Unlock()
				iter = ""
				expiredRun++
				if expiredRun > 1 {
					more = sleepCtx(ctx, a.cfg.PollInterval)
				}
			case engine.ProvisionedThroughputExceededException:
				more = throttled()
			case engine.ResourceNotFoundException:
				a.stopShard(s.id, err)
				return
			default:
				iter = ""
				more = failed(fmt.Errorf("get records: %w", err))
			}
			if !more {
				return
			}
			continue
		}
		throttle, errWait, expiredRun = 0, 0, 0

		if n := len(out.Records); n > 0 {
			if !a.deliver(ctx, s.id, out.Records) {
				return
			}
			seq = out.Records[n-1].SequenceNumber
			a.processed(ctx, s.id, seq, n)
		}
		a.mu.Lock()
		if e := a.shards[s.id]; e != nil {
			e.lag = out.MillisBehindLatest
		}
		a.mu.Unlock()

		if out.NextShardIterator == "" {
			a.endShard(ctx, s.id)
			return
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 && !sleepCtx(ctx, a.cfg.PollInterval) {
			return
		}
	}
}

// deliver hands records to the processor until it accepts them or ctx ends.
func (a *App) deliver(ctx context.Context, id string, records []engine.Record) bool {
	var wait time.Duration
	for {
		err := a.process(id, records)
		if err == nil {
			return true
		}
		a.fail(id, fmt.Errorf("process: %w", err))
		wait = grow(wait, a.cfg.PollInterval)
		if !sleepCtx(ctx, wait) {
			return false
		}
	}
}

func (a *App) process(id string, records []engine.Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("processor panicked: %v", r)
		}
	}()
	return a.proc.Process(id, records)
}

// processed counts a handled batch and checkpoints its last record. The
// checkpoint is written even while stopping, so that a restart does not
// see the batch again.
func (a *App) processed(ctx context.Context, id, seq string, n int) {
	err := a.cps.Save(context.WithoutCancel(ctx), a.name, id, seq)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records += int64(n)
	e := a.shards[id]
	if e != nil {
		e.records += int64(n)
	}
	if err != nil {
		a.recordErr(id, fmt.Errorf("save checkpoint: %w", err))
		return
	}
	if e != nil {
		e.checkpoint = seq
	}
}

// endShard checkpoints SHARD_END, retrying until it is saved or ctx ends.
func (a *App) endShard(ctx context.Context, id string) {
	var wait time.Duration
	for {
		err := a.cps.Save(context.WithoutCancel(ctx), a.name, id, ShardEnd)
		if err == nil {
			break
		}
		a.fail(id, fmt.Errorf("save checkpoint: %w", err))
		wait = grow(wait, a.cfg.PollInterval)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	a.mu.Lock()
	if e := a.shards[id]; e != nil {
		e.state = StateEnded
		e.checkpoint = ShardEnd
		e.lag = 0
	}
	a.mu.Unlock()
}

func (a *App) stopShard(id string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recordErr(id, err)
	if e := a.shards[id]; e != nil {
		e.state = StateStopped
		e.lag = 0
	}
}

func (a *App) fail(id string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recordErr(id, err)
}

// recordErr counts an error. Called with a.mu held.
func (a *App) recordErr(id string, err error) {
	a.errs++
	if id != "" {
		a.lastErr = id + ": " + err.Error()
	} else {
		a.lastErr = err.Error()
	}
}

// Stats returns an immutable picture of the application.
func (a *App) Stats() Stats {
	now := a.cfg.Clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Stats{
		App:       a.name,
		Stream:    a.stream,
		At:        now,
		Running:   a.running.Load(),
		Records:   a.records,
		Throttled: a.throttled,
		Expired:   a.expired,
		Errors:    a.errs,
		LastError: a.lastErr,
		Shards:    make([]ShardStats, 0, len(a.shards)),
	}
	for id, e := range a.shards {
		s.Shards = append(s.Shards, ShardStats{
			ShardID:            id,
			State:              e.state,
			MillisBehindLatest: e.lag,
			LastCheckpoint:     e.checkpoint,
			Records:            e.records,
		})
		if e.state == StateReading && e.lag > s.MaxLagMillis {
			s.MaxLagMillis = e.lag
		}
	}
	sort.Slice(s.Shards, func(i, j int) bool { return s.Shards[i].ShardID < s.Shards[j].ShardID })
	return s
}
