package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Processor handles the records an App reads. Process is called with the
// records of one shard in sequence order (the user records of KPL
// aggregates expanded, each with its container's sequence number); calls
// for different shards may run at the same time. While a lease moves
// between workers, two calls for one shard may briefly overlap. When
// Process returns an error (or panics) the App counts it and offers the
// same batch again later: delivery is at-least-once.
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

// leaseEpsilon is the KCL's epsilonMillis, taken off renewals and added to
// the take interval.
const leaseEpsilon = 25 * time.Millisecond

// Config tunes an App. The zero value gives the defaults.
type Config struct {
	// PollInterval is how long a shard reader waits after a response
	// without records, and between two looks at the lease table while a
	// shard waits for its parents. Default 500ms.
	PollInterval time.Duration
	// MinReadInterval is the shortest gap between two GetRecords calls on
	// one shard, which keeps a reader within the service's 5 calls/s per
	// shard. Default 200ms; negative means no gap.
	MinReadInterval time.Duration
	// Limit is the most records one GetRecords call asks for. Default 1000.
	Limit int
	// Clock stamps Stats and judges leases (renewal, take and expiry
	// schedules). Default engine.SystemClock. Waiting always uses real
	// timers: workers look at the clock every LeaseCheckInterval.
	Clock engine.Clock
	// StartPosition is where a shard without a checkpoint is read from:
	// engine.TrimHorizon (the default), engine.Latest or engine.AtTimestamp.
	// With Latest, only the shards found by the first listing of a Run
	// start at their tip (closed ones among them are skipped); shards that
	// appear later, and children of shards this App has read, start at
	// their trim horizon so nothing after a reshard is lost. AtTimestamp
	// works the same way with StartTimestamp instead of the tip (closed
	// shards are read from it too, as the KCL does).
	StartPosition engine.IteratorType
	// StartTimestamp goes with StartPosition engine.AtTimestamp; the zero
	// time means TRIM_HORIZON.
	StartTimestamp time.Time
	// RelistInterval is how often the shard list is read again to pick up
	// new shards and create their leases. Default 5s. A reader reaching a
	// shard's end also triggers a listing.
	RelistInterval time.Duration
	// ThrottleBackoff is the first wait after a
	// ProvisionedThroughputExceededException; it doubles on each further
	// throttle of the same reader up to 8 times this value and resets after
	// a successful read. Default 1s.
	ThrottleBackoff time.Duration

	// Workers is how many workers Run starts. Default 1. More can be added
	// with AddWorker while the App runs.
	Workers int
	// WorkerPrefix names the workers: WorkerPrefix + "1", "2", … in the
	// order they start. Default "w". Worker IDs must be unique among the
	// live workers sharing a lease table: give App instances (processes)
	// sharing Leases distinct prefixes. A worker that finds a lease under
	// its own ID which it does not hold (left by a previous process) takes
	// it back at once.
	WorkerPrefix string
	// Leases is where the lease table lives (bucket LeaseBucket(name)),
	// such as NewMetaLeases(db). Default: a MemoryMeta of the App's own.
	Leases LeaseStore
	// LeaseTable, when set, holds the App's leases instead of Leases: one
	// table per application, as the KCL keeps it in DynamoDB (such as
	// consumers/kcl's NewLeaseTable). Default: NewMetaLeaseTable(Leases,
	// LeaseBucket(name)).
	LeaseTable LeaseTable
	// LeaseDuration is how long, by Clock, a lease's counter must stay
	// unchanged before other workers treat it as expired. Default 10s (the
	// KCL's failoverTimeMillis).
	LeaseDuration time.Duration
	// RenewInterval is how often, by Clock, a worker renews its leases.
	// Default LeaseDuration/3 − 25ms.
	RenewInterval time.Duration
	// TakeInterval is how often, by Clock, a worker takes free or expired
	// leases and, when it holds fewer than its share, steals one from the
	// busiest worker. Default 2 × (LeaseDuration + 25ms). A worker also
	// takes free leases as soon as new ones appear.
	TakeInterval time.Duration
	// MaxLeasesToSteal bounds the leases one take steals. Default 1.
	MaxLeasesToSteal int
	// LeaseCheckInterval is how often, in real time, a worker looks at the
	// clock to see whether a renewal or a take is due. Default
	// RenewInterval/4, at most 250ms.
	LeaseCheckInterval time.Duration
	// AutoCheckpoint checkpoints the last record of every batch once
	// ProcessRecords returns nil, and ShardEnd at a shard's end when the
	// processor did not. NewApp (a simple Processor) always sets it.
	AutoCheckpoint bool

	// FanOut reads with enhanced fan-out instead of polling: Run registers
	// a stream consumer named ConsumerName (or reuses the one of that name)
	// and waits until it is ACTIVE, and each shard reader follows its shard
	// with SubscribeToShard, which pushes records through the consumer's
	// own 2 MiB/s per shard instead of sharing the shard's 5 GetRecords
	// calls/s with every other polling application. Leases, checkpoints,
	// de-aggregation and lineage work as when polling. The App's Source
	// must offer the fan-out calls: a FanOutSource, or an *engine.Engine
	// (adapted by EngineSource). PollInterval, MinReadInterval and Limit do
	// not apply to reading then.
	FanOut bool
	// ConsumerName is the stream consumer a fan-out App registers. Default
	// the App's name.
	ConsumerName string
	// RegisterTimeout bounds the wait, in real time, for a registered
	// consumer to become ACTIVE; past it the App counts an error and tries
	// again. Default 30s.
	RegisterTimeout time.Duration
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
	switch {
	case c.StartPosition == engine.AtTimestamp && !c.StartTimestamp.IsZero():
	case c.StartPosition != engine.Latest:
		c.StartPosition = engine.TrimHorizon
	}
	if c.RelistInterval <= 0 {
		c.RelistInterval = 5 * time.Second
	}
	if c.ThrottleBackoff <= 0 {
		c.ThrottleBackoff = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.WorkerPrefix == "" {
		c.WorkerPrefix = "w"
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 10 * time.Second
	}
	if c.RenewInterval <= 0 {
		c.RenewInterval = c.LeaseDuration / 3
		if c.RenewInterval > 2*leaseEpsilon {
			c.RenewInterval -= leaseEpsilon
		}
	}
	if c.TakeInterval <= 0 {
		c.TakeInterval = 2 * (c.LeaseDuration + leaseEpsilon)
	}
	if c.MaxLeasesToSteal <= 0 {
		c.MaxLeasesToSteal = 1
	}
	if c.RegisterTimeout <= 0 {
		c.RegisterTimeout = 30 * time.Second
	}
	if c.LeaseCheckInterval <= 0 {
		c.LeaseCheckInterval = min(c.RenewInterval/4, 250*time.Millisecond)
		if c.LeaseCheckInterval < time.Millisecond {
			c.LeaseCheckInterval = time.Millisecond
		}
	}
	return c
}

// ShardState is where an App is with one shard.
type ShardState string

// The states of a shard in an App.
const (
	// StateWaiting: a parent of the shard has not been read to its end
	// yet (the shard may not have a lease yet).
	StateWaiting ShardState = "waiting-for-parents"
	// StateReading: a worker of this App follows the shard.
	StateReading ShardState = "reading"
	// StateEnded: the shard was read to its end (checkpoint SHARD_END), or
	// skipped because the App started at LATEST.
	StateEnded ShardState = "ended"
	// StateStopped: the source no longer knows the shard
	// (ResourceNotFoundException); its reader stopped.
	StateStopped ShardState = "stopped"
	// StateUnowned: the shard's lease is free, waiting for a worker.
	StateUnowned ShardState = "unowned"
	// StateElsewhere: the lease is held by a worker that does not read
	// here: one of another App instance, or a crashed worker whose lease
	// has not expired yet.
	StateElsewhere ShardState = "owned-elsewhere"
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
	// LastCheckpoint is the lease's checkpoint: a sequence number,
	// ShardEnd, CheckpointTrimHorizon, CheckpointLatest, or "" without a
	// lease; CheckpointSubSequence goes with a KPL aggregate's sequence
	// number.
	LastCheckpoint        string
	CheckpointSubSequence int64
	// Records is how many records of the shard were processed in this Run.
	Records int64
	// Owner is the worker holding the lease, "" when none; LeaseCounter is
	// the lease's counter.
	Owner        string
	LeaseCounter int64
}

// Stats is an immutable picture of an App.
type Stats struct {
	App    string
	Stream string
	// At is when the picture was taken, by the App's clock.
	At time.Time
	// Running reports whether Run is in progress.
	Running bool
	// Shards lists the known shards (listed or leased) by ID.
	Shards []ShardStats
	// Workers lists the workers of this Run in the order they started.
	Workers []WorkerStats
	// Records is the total of records processed since the App was made.
	Records int64
	// Throttled counts ProvisionedThroughputExceededException responses.
	Throttled int64
	// Expired counts ExpiredIteratorException responses (each recovered
	// by a fresh iterator).
	Expired int64
	// Errors counts other failures: listing, reading, processing,
	// checkpointing, lease table access.
	Errors int64
	// LastError describes the latest of them, "" when none.
	LastError string
	// MaxLagMillis is the largest MillisBehindLatest of the shards being read.
	MaxLagMillis int64
	// LeaseMoves counts leases this App's workers took from another worker
	// (expired or stolen to balance) since the App was made.
	LeaseMoves int64
	// DroppedAggregates counts KPL aggregates dropped because a user record
	// hashed outside the shard they were read from.
	DroppedAggregates int64

	// FanOut reports an enhanced fan-out App (a dedicated pipe per shard,
	// read with SubscribeToShard); false is a polling one (GetRecords,
	// sharing each shard's read limits with every other polling App).
	FanOut bool
	// ConsumerName is the stream consumer of a fan-out App; ConsumerARN is
	// its ARN once registered and ACTIVE in the current (or latest) Run,
	// "" before and after Deregister.
	ConsumerName string
	ConsumerARN  string
	// Subscriptions counts successful SubscribeToShard calls (one per
	// shard, then one per renewal: a subscription lasts 5 minutes).
	Subscriptions int64
	// SubscribeRefused counts SubscribeToShard calls refused with
	// LimitExceededException (more than one a second per shard) or
	// ResourceInUseException (another subscription of the consumer to the
	// shard within 5 s, as when a lease moves); each is retried after a
	// pause.
	SubscribeRefused int64
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

// Worker returns the stats of the worker with the given ID.
func (s Stats) Worker(id string) (WorkerStats, bool) {
	for _, w := range s.Workers {
		if w.ID == id {
			return w, true
		}
	}
	return WorkerStats{}, false
}

// App is a consumer application: a name, a stream, and workers that share
// the stream's shards through a lease table, as the KCL does. Each worker
// takes free or expired leases, renews its own, balances with the others,
// reads its shards (parents before children), hands the records to a
// RecordProcessor per shard, and gives its leases back when it stops.
type App struct {
	name    string
	stream  string
	proc    Processor
	factory RecordProcessorFactory
	src     Source
	fos     FanOutSource // src with the fan-out calls; nil when it has none
	cps     CheckpointStore
	cfg     Config
	table   LeaseTable

	running  atomic.Bool
	syncWake chan struct{}

	mu         sync.Mutex // guards what follows
	shards     map[string]*shardEntry
	listing    map[string]engine.Shard // latest successful listing of this Run
	listed     bool                    // a listing succeeded in this Run
	leaseView  map[string]Lease        // latest known lease table
	leaseEvent chan struct{}           // closed when a lease ends or vanishes
	workers    []*worker
	nextWorker int
	live       bool // Run in progress and not stopping
	stopping   bool // Run is stopping its workers
	records    int64
	throttled  int64
	expired    int64
	errs       int64
	lastErr    string
	moves      int64
	dropped    int64

	// Enhanced fan-out (Config.FanOut).
	regWake       chan struct{}        // asks the registration loop to register again
	streamARN     string               // the stream's ARN once known
	consumerARN   string               // the ACTIVE consumer of this Run, "" before
	consumerReady chan struct{}        // closed while consumerARN is set
	lastSubscribe map[string]time.Time // real time of the latest SubscribeToShard per shard
	subscriptions int64
	refused       int64
}

// shardEntry is the progress of the local reader in charge of a shard.
type shardEntry struct {
	owner   string     // worker whose reader is in charge, "" when none
	state   ShardState // set by that reader; "" when derived from the lease
	lag     int64
	records int64
}

// NewApp returns an application named name (the lease and checkpoint
// namespace) reading stream (a name, or an ARN) from src with p, which
// gets every shard's batches, checkpointed automatically. Checkpoints live
// in the lease table; cps, when not nil, seeds the checkpoint of a new
// lease and receives a copy of every checkpoint.
func NewApp(name, stream string, p Processor, src Source, cps CheckpointStore, cfg Config) *App {
	cfg.AutoCheckpoint = true
	a := NewRecordApp(name, stream, Adapt(p), src, cps, cfg)
	a.proc = p
	return a
}

// NewRecordApp returns an application whose shards are each processed by
// a RecordProcessor made by f; see NewApp for the rest.
func NewRecordApp(name, stream string, f RecordProcessorFactory, src Source, cps CheckpointStore, cfg Config) *App {
	cfg = cfg.withDefaults()
	if cfg.Leases == nil {
		cfg.Leases = NewMemoryMeta()
	}
	if cfg.LeaseTable == nil {
		cfg.LeaseTable = NewMetaLeaseTable(cfg.Leases, LeaseBucket(name))
	}
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = name
	}
	return &App{
		name:          name,
		stream:        stream,
		factory:       f,
		src:           src,
		fos:           asFanOutSource(src),
		cps:           cps,
		cfg:           cfg,
		table:         cfg.LeaseTable,
		syncWake:      make(chan struct{}, 1),
		shards:        make(map[string]*shardEntry),
		leaseView:     make(map[string]Lease),
		leaseEvent:    make(chan struct{}),
		regWake:       make(chan struct{}, 1),
		consumerReady: make(chan struct{}),
		lastSubscribe: make(map[string]time.Time),
	}
}

// Name returns the application's name.
func (a *App) Name() string { return a.name }

// Stream returns the stream the application reads.
func (a *App) Stream() string { return a.stream }

// Processor returns the application's processor, nil for an App made by
// NewRecordApp.
func (a *App) Processor() Processor { return a.proc }

// Config returns the application's configuration with defaults applied.
func (a *App) Config() Config { return a.cfg }

// Summary returns the processor's one-line summary, or "" when it has none.
func (a *App) Summary() string {
	if s, ok := a.proc.(Summarizer); ok {
		return s.Summary()
	}
	return ""
}

// Errors of Run and of the worker controls.
var (
	// ErrRunning is returned by Run when the App is already running.
	ErrRunning = errors.New("consumers: app is already running")
	// ErrNotRunning is returned by AddWorker when the App is not running.
	ErrNotRunning = errors.New("consumers: app is not running")
	// ErrNoWorker is returned for a worker ID the App does not run.
	ErrNoWorker = errors.New("consumers: no such worker")
	// ErrNoFanOut is returned by Run for a fan-out App whose Source does
	// not offer the enhanced fan-out calls.
	ErrNoFanOut = errors.New("consumers: the source offers no enhanced fan-out (SubscribeToShard)")
)

// Run starts the workers and the shard listing (and, for a fan-out App,
// the consumer's registration) and runs until ctx is done, then stops
// every worker gracefully (processors shut down with ShutdownRequested,
// leases handed back) and returns nil. Failures of the source or the
// store are counted in Stats and retried; they do not end Run. A fan-out
// App whose Source offers no fan-out returns ErrNoFanOut at once.
func (a *App) Run(ctx context.Context) error {
	if a.cfg.FanOut && a.fos == nil {
		a.fail("", ErrNoFanOut)
		return ErrNoFanOut
	}
	if !a.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer a.running.Store(false)

	a.mu.Lock()
	a.shards = make(map[string]*shardEntry)
	a.listing, a.listed = nil, false
	a.workers = nil
	a.live, a.stopping = true, false
	a.resetConsumerLocked()
	for range a.cfg.Workers {
		a.startWorkerLocked()
	}
	a.mu.Unlock()

	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		a.syncLoop(ctx)
	}()
	regDone := make(chan struct{})
	go func() {
		defer close(regDone)
		if a.cfg.FanOut {
			a.registerLoop(ctx)
		}
	}()
	<-ctx.Done()

	a.mu.Lock()
	a.live, a.stopping = false, true
	ws := slices.Clone(a.workers)
	a.mu.Unlock()
	for _, w := range ws {
		w.requestStop()
	}
	for _, w := range ws {
		<-w.done
	}
	<-syncDone
	<-regDone
	return nil
}

// startWorkerLocked starts a worker with the next ID. Called with a.mu held.
func (a *App) startWorkerLocked() *worker {
	a.nextWorker++
	w := newWorker(a, fmt.Sprintf("%s%d", a.cfg.WorkerPrefix, a.nextWorker))
	a.workers = append(a.workers, w)
	go w.loop()
	return w
}

// AddWorker starts one more worker while the App runs and returns its ID.
func (a *App) AddWorker() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live {
		return "", ErrNotRunning
	}
	return a.startWorkerLocked().id, nil
}

func (a *App) worker(id string) *worker {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.id == id {
			return w
		}
	}
	return nil
}

// StopWorker stops a worker gracefully: its processors shut down with
// ShutdownRequested and its leases are handed back for the other workers
// to take. It returns at once; the worker's state in Stats goes from
// "stopping" to "stopped".
func (a *App) StopWorker(id string) error {
	w := a.worker(id)
	if w == nil {
		return ErrNoWorker
	}
	w.requestStop()
	return nil
}

// CrashWorker stops a worker abruptly, as if its process died: it stops
// renewing without handing its leases back, its processors get no
// Shutdown and can no longer checkpoint. Other workers take its leases once
// they expire, and read on from the last checkpoints (a batch processed but
// not checkpointed is delivered again). It returns at once.
func (a *App) CrashWorker(id string) error {
	w := a.worker(id)
	if w == nil {
		return ErrNoWorker
	}
	w.crash()
	return nil
}

// Leases reads the application's lease table, ordered by shard ID.
func (a *App) Leases() ([]Lease, error) {
	m, err := a.table.List(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]Lease, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out, nil
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

// requestSync asks the shard sync for a listing now.
func (a *App) requestSync() {
	select {
	case a.syncWake <- struct{}{}:
	default:
	}
}

// wakeWorkers asks every worker to look for free leases now.
func (a *App) wakeWorkers() {
	a.mu.Lock()
	ws := slices.Clone(a.workers)
	a.mu.Unlock()
	for _, w := range ws {
		w.poke()
	}
}

// syncLoop lists the shards and creates their leases, every
// RelistInterval and when a reader reaches a shard's end, until ctx ends.
func (a *App) syncLoop(ctx context.Context) {
	first := true
	for {
		ok := a.syncShards(ctx, first)
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
			return
		case <-a.syncWake:
			t.Stop()
		case <-t.C:
		}
	}
}

// syncShards lists the shards and brings the lease table in line: a lease
// for every shard whose parents have ended (or are gone), range filled in,
// leases of shards no longer listed deleted. It reports whether the listing
// succeeded.
func (a *App) syncShards(ctx context.Context, first bool) bool {
	// The leases are read before the shards are listed: a reader that
	// reaches its shard's end creates its children's leases at once, and a
	// child lease read after a listing that predates the child's shard
	// would be taken for a lease of a shard no longer listed and deleted,
	// with its reader's latest batch not yet checkpointed (read again from
	// the start by whoever takes the recreated lease). Every lease read
	// before the listing names a shard that existed before it.
	leases, err := a.table.List(context.Background())
	if err != nil {
		a.fail("", fmt.Errorf("read leases: %w", err))
		return false
	}
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
	sort.Slice(shards, func(i, j int) bool { return shards[i].ShardID < shards[j].ShardID })
	a.mu.Lock()
	a.listing, a.listed = listed, true
	a.mu.Unlock()

	changed := false // a lease ended or vanished: waiting children may go
	for _, s := range shards {
		l, ok := leases[s.ShardID]
		if !ok {
			continue
		}
		if l.Ended() && s.Open() {
			// An open shard has no end: the lease is left from an earlier
			// stream of the same name.
			a.fail(s.ShardID, errors.New("stale checkpoint SHARD_END on an open shard ignored"))
			if nl, err := a.table.Update(context.Background(), s.ShardID, func(cur *Lease, exists bool) error {
				if !exists || cur.Counter != l.Counter {
					return errConflict
				}
				cur.Checkpoint, cur.CheckpointSubSequenceNumber = CheckpointTrimHorizon, 0
				cur.Counter++
				return nil
			}); err == nil {
				leases[s.ShardID] = nl
			}
		}
		if l.StartingHashKey == "" && knownRange(s.HashKeyRange) {
			if nl, err := a.table.Update(context.Background(), s.ShardID, func(cur *Lease, exists bool) error {
				if !exists {
					return errConflict
				}
				cur.StartingHashKey, cur.EndingHashKey = s.HashKeyRange.Start.String(), s.HashKeyRange.End.String()
				return nil
			}); err == nil {
				leases[s.ShardID] = nl
			}
		}
	}

	created := make(map[string]bool)
	newLeases := false
	for pass := 0; pass <= len(shards); pass++ {
		progress := false
		for _, s := range shards {
			if _, ok := leases[s.ShardID]; ok {
				continue
			}
			parents := shardParents(s)
			var listedParents []string
			for _, p := range parents {
				if _, ok := listed[p]; ok {
					listedParents = append(listedParents, p)
				}
			}
			if len(listedParents) > 0 && !slices.ContainsFunc(listedParents, func(p string) bool {
				pl, ok := leases[p]
				return ok && pl.Ended()
			}) {
				continue // no parent has ended yet
			}
			cp, ok := a.initialCheckpoint(ctx, s, listedParents, leases, created, first)
			if !ok {
				continue
			}
			l := Lease{ShardID: s.ShardID, Checkpoint: cp.SequenceNumber, CheckpointSubSequenceNumber: cp.SubSequenceNumber, ParentShardIDs: parents}
			if knownRange(s.HashKeyRange) {
				l.StartingHashKey, l.EndingHashKey = s.HashKeyRange.Start.String(), s.HashKeyRange.End.String()
			}
			got, isNew, err := a.table.Create(context.Background(), l)
			if err != nil {
				a.fail(s.ShardID, fmt.Errorf("create lease: %w", err))
				continue
			}
			leases[s.ShardID] = got
			created[s.ShardID] = true
			progress = true
			newLeases = newLeases || isNew
		}
		if !progress {
			break
		}
	}

	for id, l := range leases {
		if _, ok := listed[id]; ok {
			continue
		}
		// The shard expired (or the stream is gone): its lease goes, which
		// also counts as its end for children waiting on it.
		if removed, err := a.table.Remove(context.Background(), id, l.Counter); err != nil {
			a.fail(id, fmt.Errorf("delete lease: %w", err))
		} else if removed {
			delete(leases, id)
			changed = true
		}
	}
	a.setLeaseView(leases, true)
	if changed {
		a.leaseEnded()
	}
	if newLeases {
		a.wakeWorkers()
	}
	return true
}

// shardParents returns a shard's parent IDs.
func shardParents(s engine.Shard) []string {
	var out []string
	for _, p := range []string{s.ParentShardID, s.AdjacentParentShardID} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// initialCheckpoint says where a new lease starts: the checkpoint store's
// value when there is one, else TRIM_HORIZON, or at the first listing of a
// Run with StartPosition LATEST: LATEST for open shards without a parent
// read before, ShardEnd (skipped) for closed ones; with AT_TIMESTAMP:
// AT_TIMESTAMP for every shard without a parent read before. ok is false
// when the checkpoint store failed.
func (a *App) initialCheckpoint(ctx context.Context, s engine.Shard, parents []string, leases map[string]Lease, created map[string]bool, first bool) (ExtendedSequenceNumber, bool) {
	if a.cps != nil {
		cp, err := a.cps.Load(ctx, a.name, s.ShardID)
		if err != nil {
			if ctx.Err() == nil {
				a.fail(s.ShardID, fmt.Errorf("load checkpoint: %w", err))
			}
			return ExtendedSequenceNumber{}, false
		}
		if cp == ShardEnd && s.Open() {
			// An open shard has no end: the checkpoint is left from an
			// earlier stream of the same name.
			a.fail(s.ShardID, errors.New("stale checkpoint SHARD_END on an open shard ignored"))
			cp = ""
		}
		if cp != "" {
			return ParseExtendedSequenceNumber(cp), true
		}
	}
	if first && a.cfg.StartPosition == engine.AtTimestamp {
		for _, p := range parents {
			if _, ok := leases[p]; ok && !created[p] {
				return ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}, true
			}
		}
		return ExtendedSequenceNumber{SequenceNumber: CheckpointAtTimestamp}, true
	}
	if first && a.cfg.StartPosition == engine.Latest {
		if !s.Open() {
			return ExtendedSequenceNumber{SequenceNumber: ShardEnd}, true
		}
		for _, p := range parents {
			if _, ok := leases[p]; ok && !created[p] {
				// A parent was (or is being) read: continue where it ends.
				return ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}, true
			}
		}
		return ExtendedSequenceNumber{SequenceNumber: CheckpointLatest}, true
	}
	return ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}, true
}

// setLeaseView records a lease table read. With whole, leases missing from
// it are dropped from the view; a lease in the view with a higher counter
// (a newer local write) is kept.
func (a *App) setLeaseView(leases map[string]Lease, whole bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[string]Lease, len(leases))
	for id, l := range leases {
		if cur, ok := a.leaseView[id]; ok && cur.Counter > l.Counter {
			l = cur
		}
		next[id] = l
	}
	if !whole {
		for id, l := range a.leaseView {
			if _, ok := next[id]; !ok {
				next[id] = l
			}
		}
	}
	a.leaseView = next
}

// noteLease records a lease this process just wrote.
func (a *App) noteLease(l Lease) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.leaseView[l.ShardID]; !ok || cur.Counter <= l.Counter {
		a.leaseView[l.ShardID] = l
	}
}

// leaseEnded wakes the readers waiting for parents.
func (a *App) leaseEnded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.leaseEvent)
	a.leaseEvent = make(chan struct{})
}

// leaseEvents returns a channel closed at the next leaseEnded.
func (a *App) leaseEvents() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.leaseEvent
}

// mayBeListed reports whether the shard may still exist: it is in the
// latest listing, or there has been no listing yet.
func (a *App) mayBeListed(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.listed {
		return true
	}
	_, ok := a.listing[id]
	return ok
}

// isListed reports whether the last listing shows the shard.
func (a *App) isListed(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.listing[id]
	return a.listed && ok
}

// listedShard returns the shard as last listed.
func (a *App) listedShard(id string) (engine.Shard, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.listing[id]
	return s, ok
}

// entry returns the shard's entry, creating it. Called with a.mu held.
func (a *App) entry(id string) *shardEntry {
	e := a.shards[id]
	if e == nil {
		e = &shardEntry{}
		a.shards[id] = e
	}
	return e
}

// claimShard makes worker's reader the one in charge of the shard.
func (a *App) claimShard(id, worker string, st ShardState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.entry(id)
	e.owner, e.state = worker, st
}

// setShardState records the state of the reader in charge.
func (a *App) setShardState(id, worker string, st ShardState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.entry(id); e.owner == worker {
		e.state = st
		if st != StateReading {
			e.lag = 0
		}
	}
}

// setLag records the lag the reader in charge saw.
func (a *App) setLag(id, worker string, lag int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.entry(id); e.owner == worker {
		e.lag = lag
	}
}

// unclaimShard ends worker's charge of the shard; unless keep, the shard's
// state is derived from its lease again.
func (a *App) unclaimShard(id, worker string, keep bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.entry(id); e.owner == worker {
		e.owner = ""
		if !keep {
			e.state, e.lag = "", 0
		}
	}
}

func (a *App) isStopping() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stopping
}

// processed counts a handled batch.
func (a *App) processed(id string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records += int64(n)
	a.entry(id).records += int64(n)
}

func (a *App) stopShard(id, worker string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recordErr(id, err)
	if e := a.entry(id); e.owner == worker {
		e.state, e.lag = StateStopped, 0
	}
}

func (a *App) count(field *int64, n int64) {
	a.mu.Lock()
	*field += n
	a.mu.Unlock()
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
		App:               a.name,
		Stream:            a.stream,
		At:                now,
		Running:           a.running.Load(),
		Records:           a.records,
		Throttled:         a.throttled,
		Expired:           a.expired,
		Errors:            a.errs,
		LastError:         a.lastErr,
		LeaseMoves:        a.moves,
		DroppedAggregates: a.dropped,
		FanOut:            a.cfg.FanOut,
		Subscriptions:     a.subscriptions,
		SubscribeRefused:  a.refused,
	}
	if a.cfg.FanOut {
		s.ConsumerName, s.ConsumerARN = a.cfg.ConsumerName, a.consumerARN
	}
	ids := make(map[string]bool, len(a.listing)+len(a.leaseView))
	for id := range a.listing {
		ids[id] = true
	}
	for id := range a.leaseView {
		ids[id] = true
	}
	s.Shards = make([]ShardStats, 0, len(ids))
	for id := range ids {
		st := ShardStats{ShardID: id}
		l, leased := a.leaseView[id]
		if leased {
			st.Owner, st.LeaseCounter = l.Owner, l.Counter
			st.LastCheckpoint, st.CheckpointSubSequence = l.Checkpoint, l.CheckpointSubSequenceNumber
		}
		e := a.shards[id]
		if e != nil {
			st.MillisBehindLatest, st.Records = e.lag, e.records
		}
		switch {
		case leased && l.Ended():
			st.State = StateEnded
		case e != nil && e.state != "":
			st.State = e.state
		case !leased:
			st.State = StateWaiting
		case l.Owner == "":
			st.State = StateUnowned
		default:
			st.State = StateElsewhere
		}
		if st.State != StateReading {
			st.MillisBehindLatest = 0
		}
		if st.State == StateReading && st.MillisBehindLatest > s.MaxLagMillis {
			s.MaxLagMillis = st.MillisBehindLatest
		}
		s.Shards = append(s.Shards, st)
	}
	sort.Slice(s.Shards, func(i, j int) bool { return s.Shards[i].ShardID < s.Shards[j].ShardID })
	for _, w := range a.workers {
		ws := w.stats()
		for id, l := range a.leaseView {
			if l.Owner == w.id && !l.Ended() {
				ws.Leases = append(ws.Leases, id)
			}
		}
		sort.Strings(ws.Leases)
		s.Workers = append(s.Workers, ws)
	}
	return s
}
