package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardscope/shardscope/engine/kms"
	"github.com/shardscope/shardscope/storage"
	"golang.org/x/time/rate"
)

// Per-shard limits of the service.
const (
	ShardWriteBytesPerSec   = 1 << 20
	ShardWriteRecordsPerSec = 1000
	ShardReadBytesPerSec    = 2 << 20
	ShardReadCallsPerSec    = 5
	MaxRecordBytes          = 1 << 20
	MaxPutRecordsEntries    = 500
	MaxPutRecordsBytes      = 5 << 20
	MaxGetRecordsLimit      = 10000
	MaxGetRecordsBytes      = 10 << 20
	IteratorTTL             = 5 * time.Minute
	MinRetentionHours       = 24
	MaxRetentionHours       = 8760
	OnDemandInitialShards   = 4
	OnDemandStreamLimit     = 50
)

// Options configure an Engine. The zero value gives the service's defaults.
type Options struct {
	// Clock tells the time; default SystemClock.
	Clock Clock
	// Logger, when set, receives every event (the console's events pane)
	// as a log line too, so a headless server reports them: clock jumps,
	// trims, throttling, storage failures (the last at Warn).
	Logger *slog.Logger
	// Region and AccountID appear in ARNs and messages; defaults us-east-1 and 000000000000.
	Region    string
	AccountID string
	// DisableLimits switches the per-shard data-plane limits off.
	DisableLimits bool
	// ShardLimit is the account's open-shard quota; default 20000.
	ShardLimit int
	// CreateDelay, UpdateDelay and DeleteDelay are how long a stream stays
	// CREATING, UPDATING and DELETING; default 0 (immediate).
	CreateDelay, UpdateDelay, DeleteDelay time.Duration
	// RetentionInterval is how often the background trimmer runs; default
	// 5s; negative turns it off (tests call ApplyRetention).
	RetentionInterval time.Duration
	// TrimBatch bounds how many records one trimming transaction deletes; default 5000.
	TrimBatch int

	// ScaleInterval is how often the background scaler evaluates ON_DEMAND
	// streams; default 1 min (the service's metrics are per minute);
	// negative turns the loop off (tests and demos call EvaluateScaling).
	ScaleInterval time.Duration
	// ScaleUpWindow is how long a shard must stay hot (≥ 80 % of its write
	// limit, or throttled) before the scaler splits it; default 5 min, so a
	// doubling of load is absorbed within the ~15 min the service quotes.
	ScaleUpWindow time.Duration
	// ScaleDownWindow is how long two adjacent shards must both stay cold
	// (< 20 % of their write limit) before they are merged; default 24 h
	// (the service sizes for its 30-day peak and gives capacity back slowly).
	ScaleDownWindow time.Duration
	// ScaleCooldown is the least time between two scaling actions on a
	// stream; default 5 min; negative means none.
	ScaleCooldown time.Duration
	// Prices is the price table of the cost meter; zero means DefaultPrices.
	Prices Prices
	// Keyring holds the KMS keys of encrypted streams; default the keyring
	// file beside the store (kms.PathFor), created on first use.
	Keyring *kms.Keyring
}

func (o *Options) fill() {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	if o.ShardLimit <= 0 {
		o.ShardLimit = 20000
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = 5 * time.Second
	}
	if o.TrimBatch <= 0 {
		o.TrimBatch = 5000
	}
	o.fillScaling()
	if o.Prices == (Prices{}) {
		o.Prices = DefaultPrices
	}
}

// Engine owns every stream of one store. Its methods are safe for
// concurrent use.
type Engine struct {
	db     *storage.DB
	opts   Options
	clock  Clock
	signer tokenSigner
	keys   *kms.Keyring

	// mu guards the streams map and each stream's control state. Writers of
	// records hold it shared only while routing, never while waiting for disk.
	mu      sync.RWMutex
	streams map[string]*stream
	closed  bool // Close has run; guarded by mu

	account accountSettings // guarded by mu (settings.go)

	// pendingDue is when the next deferred reshard is due (epoch ms, 0 for
	// none): the fast path of settleReshards. Written under mu.
	pendingDue atomic.Int64

	// seekHook, when set by a test, runs in SubscribeToShard after e.mu is
	// released and before the storage seek.
	seekHook func()
	// pollHook, when set by a test, runs in a subscription's poll at each
	// pollStep, with no lock held: what it changes there must still wake
	// the subscription.
	pollHook func(pollStep)

	events   eventLog
	retClock retentionClock // background retention's guard against clock jumps
	tapsMu   sync.RWMutex
	taps     map[*Tap]struct{}

	// started is when the engine started, on the rate clock (rateTime):
	// the cost estimate averages only over seconds measured since.
	started time.Time

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// offsetter is a clock that runs ahead of real time on purpose
// (OffsetClock, the console's time-lapse).
type offsetter interface{ Offset() time.Duration }

// rateTime turns an engine time into the time per-second counters are
// kept by: real time, without an OffsetClock's deliberate offset. A
// time-lapse ages records and moves retention, but rates, sparklines and
// the cost estimate go on measuring the seconds that really pass.
func (e *Engine) rateTime(t time.Time) time.Time {
	if o, ok := e.clock.(offsetter); ok {
		return t.Add(-o.Offset())
	}
	return t
}

const engineBucket = "engine"

// New starts an engine over an open store, recovering every stream from it.
func New(db *storage.DB, opts Options) (*Engine, error) {
	opts.fill()
	e := &Engine{db: db, opts: opts, clock: opts.Clock, streams: map[string]*stream{}, taps: map[*Tap]struct{}{}, stop: make(chan struct{})}
	key, err := db.GetMeta(engineBucket, "iterator-key")
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := db.PutMeta(engineBucket, "iterator-key", key); err != nil {
			return nil, err
		}
	}
	e.signer = tokenSigner{key: key}
	e.started = e.rateTime(e.clock.Now())
	if e.keys = opts.Keyring; e.keys == nil {
		if e.keys, err = kms.Open(kms.PathFor(db.Path()), kms.Options{Region: opts.Region, Account: opts.AccountID, Now: e.clock.Now}); err != nil {
			return nil, err
		}
	}
	if err := e.loadAccount(); err != nil {
		return nil, fmt.Errorf("load account settings: %w", err)
	}
	err = db.ForEachMeta(streamsBucket, func(name string, value []byte) error {
		s, err := e.loadStream(value)
		if err != nil {
			return fmt.Errorf("load stream %s: %w", name, err)
		}
		e.streams[s.name] = s
		if len(s.pending) > 0 && (e.pendingDue.Load() == 0 || s.updatingUntil.UnixMilli() < e.pendingDue.Load()) {
			e.pendingDue.Store(s.updatingUntil.UnixMilli())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opts.RetentionInterval > 0 {
		e.every(opts.RetentionInterval, "retention", func(time.Time) error { return e.retentionPass() })
	}
	if opts.ScaleInterval > 0 {
		e.every(opts.ScaleInterval, "on-demand scaling", func(now time.Time) error {
			_, err := e.EvaluateScaling(now)
			return err
		})
	}
	return e, nil
}

// Close stops the background work and ends every SubscribeToShard
// subscription with ErrClosed; later SubscribeToShard calls fail with it.
// It does not close the store.
func (e *Engine) Close() error {
	e.once.Do(func() { close(e.stop) })
	// Under the write lock, so a subscription being started either sees
	// closed or is registered in time to be ended here.
	e.mu.Lock()
	e.closed = true
	for _, s := range e.streams {
		for _, c := range s.consumers {
			c.closeSubscriptions()
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// Clock returns the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// Options returns the options in force (defaults filled in).
func (e *Engine) Options() Options { return e.opts }

func (e *Engine) arn(name string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", e.opts.Region, e.opts.AccountID, name)
}

func (e *Engine) event(kind EventKind, stream, shard, format string, args ...any) {
	ev := Event{At: e.clock.Now(), Kind: kind, Stream: stream, ShardID: shard, Message: fmt.Sprintf(format, args...)}
	e.events.add(ev)
	if l := e.opts.Logger; l != nil {
		level := slog.LevelInfo
		if kind == EventError {
			level = slog.LevelWarn
		}
		l.Log(context.Background(), level, ev.Message, "event", string(kind), "stream", stream, "shard", shard)
	}
}

func (e *Engine) notFound(name string) *Error {
	return newError(ResourceNotFoundException, "Stream %s under account %s not found.", name, e.opts.AccountID)
}

// resolveName validates a StreamRef and returns the stream name it means.
func (e *Engine) resolveName(ref StreamRef) (string, error) {
	var v validator
	v.streamName(ref.StreamName, "streamName")
	v.streamARN(ref.StreamARN)
	if err := v.err(); err != nil {
		return "", err
	}
	name := ref.StreamName
	if ref.StreamARN != "" {
		i := strings.Index(ref.StreamARN, ":stream/")
		fromARN := ref.StreamARN[i+len(":stream/"):]
		if j := strings.IndexByte(fromARN, '/'); j >= 0 {
			fromARN = fromARN[:j] // a consumer ARN names its stream first
		}
		if ref.StreamARN[:i+len(":stream/")]+fromARN != e.arn(fromARN) {
			return "", newError(ResourceNotFoundException, "Stream %s under account %s not found.", ref.StreamARN, e.opts.AccountID)
		}
		if name != "" && name != fromARN {
			return "", newError(InvalidArgumentException, "StreamARN %s does not match StreamName %s.", ref.StreamARN, name)
		}
		name = fromARN
	}
	if name == "" {
		return "", newError(InvalidArgumentException, "Either StreamName or StreamARN should be provided.")
	}
	return name, nil
}

// lookup finds a stream that exists (any status) under e.mu held by the caller.
func (e *Engine) lookup(ref StreamRef) (*stream, error) {
	name, err := e.resolveName(ref)
	if err != nil {
		return nil, err
	}
	s := e.streams[name]
	if s == nil || e.gone(s) {
		return nil, e.notFound(name)
	}
	return s, nil
}

// gone reports whether a deleting stream's delay has passed.
func (e *Engine) gone(s *stream) bool {
	return s.deleting && !e.clock.Now().Before(s.deleteAt)
}

// forData finds a stream that accepts reads and writes.
func (e *Engine) forData(ref StreamRef) (*stream, error) {
	s, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	if s.status(e.clock.Now()) == StatusCreating {
		return nil, e.notFound(s.name)
	}
	return s, nil
}

// forChange finds a stream that accepts a control-plane change: ACTIVE.
func (e *Engine) forChange(ref StreamRef) (*stream, error) {
	s, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	if st := s.status(e.clock.Now()); st != StatusActive {
		return nil, newError(ResourceInUseException, "Stream %s under account %s not ACTIVE, instead in state %s", s.name, e.opts.AccountID, st)
	}
	return s, nil
}

func (e *Engine) newShard(streamName string, idx uint32, rng HashKeyRange, parent, adjacent string, created time.Time) *shard {
	sh := &shard{
		index: idx, id: shardID(idx), ref: storage.ShardRef{Stream: streamName, Shard: idx},
		rng: rng, parent: parent, adjacent: adjacent, created: created, nextPos: 1,
		writeBytes:    rate.NewLimiter(ShardWriteBytesPerSec, ShardWriteBytesPerSec),
		writeRecords:  rate.NewLimiter(ShardWriteRecordsPerSec, ShardWriteRecordsPerSec),
		readBytes:     rate.NewLimiter(ShardReadBytesPerSec, ShardReadBytesPerSec),
		readCalls:     rate.NewLimiter(ShardReadCallsPerSec, ShardReadCallsPerSec),
		iteratorCalls: rate.NewLimiter(ShardReadCallsPerSec, ShardReadCallsPerSec),
		subs:          map[*Subscription]struct{}{},
	}
	sh.visible.Store(1)
	return sh
}

func (e *Engine) throttleMessage(s *stream, sh *shard) string {
	return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", sh.id, s.name, e.opts.AccountID)
}

// shardNotFound names the shard as the service does: by its canonical id
// when the id has a shard number, else as given.
func (e *Engine) shardNotFound(streamName, id string) *Error {
	canon, ok := CanonicalShardID(id)
	if !ok {
		return newError(ResourceNotFoundException, "Could not find shard %s in stream %s under account %s.", id, streamName, e.opts.AccountID)
	}
	return newError(ResourceNotFoundException, "Shard %s in stream %s under account %s does not exist", canon, streamName, e.opts.AccountID)
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
